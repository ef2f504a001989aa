/* earlylib.h — earlylib.c's two calls. */
#ifndef EARLYLIB_H
#define EARLYLIB_H

/* n blocks of 48 bytes hung off the head the library keeps. */
void early_hang(int n);
/* A block of 48 bytes hung off the other head, which is then freed. */
void early_hang_dropped(void);

#endif
