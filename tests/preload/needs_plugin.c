/* needs_plugin.c — a program built with no run path to the library it
 * needs (libleakplugin.so): the dynamic loader cannot find it and ends the
 * program with status 127 before any library runs, ward's included.
 * `ward run` must say so, not guess an exit that bypassed the exit
 * handlers. */
void plugin_leak(void);

int main(void)
{
	plugin_leak();
	return 0;
}
