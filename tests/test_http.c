/*
 * test_http.c — the live endpoint (include/ward/http.h) with real clients:
 * go tool pprof over HTTP, promtool on /metrics, curl; deltas, thread
 * dumps, and the server's bounds — loopback only by default, oversize
 * requests, silent clients, 100 clients at once, unknown paths — while
 * the program's own work goes on.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runner.h"
#include "ward.h"

static void need(const char *tool, const char *package)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	if (system(cmd) != 0)
		ward_test__fail(__FILE__, __LINE__, "%s is missing: sudo apt-get "
				"install -y %s", tool, package);
}

/* A raw request; the whole answer (the server closes). */
static char *raw(int port, const char *req, size_t len)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT_EQ(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ASSERT_EQ(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
	struct ward_test_buf b = { 0 };
	char chunk[4096];
	ssize_t r;
	struct pollfd p = { fd, POLLIN, 0 };
	while (poll(&p, 1, 10000) == 1 && (r = recv(fd, chunk, sizeof(chunk), 0)) > 0)
		ward_test_to_buf(&b, chunk, (size_t)r);
	close(fd);
	if (!b.p)
		ward_test_to_buf(&b, "", 0);
	return b.p;
}

static __attribute__((noinline)) void *cache_entry(void)
{
	void *p = ward_malloc(1000);
	__asm__ volatile("" ::: "memory");
	return p;
}

static void *held[300];

static int serve(void)
{
	ward_test_capture_log();
	for (int i = 0; i < 200; i++)
		held[i] = cache_entry();
	int port = ward_http_start("127.0.0.1:0", 0);
	ASSERT_GT(port, 0);
	return port;
}

static void done(void)
{
	ward_http_stop();
	for (int i = 0; i < 300; i++) {
		ward_free(held[i]);
		held[i] = NULL;
	}
}

TEST(go_tool_pprof_reads_the_live_heap_with_its_names)
{
	need("go", "golang-go");
	int port = serve();
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "HOME=${HOME:-/tmp} go tool pprof -top "
		 "http://127.0.0.1:%d/debug/pprof/heap 2>&1", port);
	int st;
	char *out = ward_test_run(cmd, &st);
	ASSERT_EQ(st, 0);
	ASSERT_CONTAINS(out, "Type: inuse_space");
	ASSERT_CONTAINS(out, "cache_entry"); /* named by the profile itself */
	ASSERT_CONTAINS(out, "195.31kB");    /* 200 blocks of 1000 bytes */
	free(out);
	/* The profile carries function names and lines: -raw lists them
	 * from the profile, with no binary to read. */
	snprintf(cmd, sizeof(cmd), "HOME=${HOME:-/tmp} go tool pprof -raw "
		 "http://127.0.0.1:%d/debug/pprof/heap 2>&1", port);
	out = ward_test_run(cmd, &st);
	ASSERT_CONTAINS(out, "cache_entry test_http.c:");
	free(out);
	done();
}

static void zero32(void *obj, void *arg)
{
	(void)arg;
	memset(obj, 0, 32);
}

TEST(metrics_pass_promtool)
{
	need("promtool", "prometheus");
	need("curl", "curl");
	int port = serve();
	/* Two pools of one name are one series; a pool's figures come with
	 * their help, counters as _total. */
	ward_pool_t *pools[2];
	void *got[3];
	for (int i = 0; i < 2; i++)
		pools[i] = ward_pool_new(&(struct ward_pool_config){
			.name = "sess\"ions", .size = 32, .reset = zero32 });
	got[0] = ward_pool_get(pools[0]);
	got[1] = ward_pool_get(pools[1]);
	got[2] = ward_pool_get(pools[1]);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "curl -sf http://127.0.0.1:%d/metrics", port);
	int st;
	char *out = ward_test_run(cmd, &st);
	ASSERT_EQ(st, 0);
	ASSERT_CONTAINS(out, "# TYPE ward_pool_in_use gauge\n"
			     "ward_pool_in_use{pool=\"sess\\\"ions\"} 3\n");
	ASSERT_CONTAINS(out, "# HELP ward_pool_gets_total Objects taken from the pool.\n"
			     "# TYPE ward_pool_gets_total counter\n");
	ASSERT_CONTAINS(out, "ward_live{kind=\"heap\"} 200\n");
	ASSERT_CONTAINS(out, "ward_live_bytes{kind=\"heap\"} 200000\n");
	ASSERT_CONTAINS(out, "# TYPE ward_acquired_total counter\n");
	ASSERT_CONTAINS(out, "process_resident_memory_bytes ");
	free(out);
	snprintf(cmd, sizeof(cmd), "curl -sf http://127.0.0.1:%d/metrics | "
		 "promtool check metrics 2>&1", port);
	out = ward_test_run(cmd, &st);
	if (st != 0)
		ward_test__fail(__FILE__, __LINE__, "promtool: %s", out);
	free(out);
	ward_pool_put(pools[0], got[0]);
	ward_pool_put(pools[1], got[1]);
	ward_pool_put(pools[1], got[2]);
	ward_pool_free(pools[0]);
	ward_pool_free(pools[1]);
	done();
}

TEST(pages_text_delta_threads_and_unknown_paths)
{
	need("curl", "curl");
	int port = serve();
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "curl -s http://127.0.0.1:%d/debug/pprof/heap?debug=1",
		 port);
	char *out = ward_test_run(cmd, NULL);
	ASSERT_CONTAINS(out, "cache_entry");
	ASSERT_CONTAINS(out, "200000");
	free(out);
	snprintf(cmd, sizeof(cmd), "curl -s http://127.0.0.1:%d/debug/pprof/", port);
	out = ward_test_run(cmd, NULL);
	ASSERT_CONTAINS(out, "threads?debug=2");
	free(out);
	/* ?seconds=1: only what was acquired meanwhile. */
	snprintf(cmd, sizeof(cmd), "curl -s 'http://127.0.0.1:%d/debug/pprof/"
		 "heap?debug=1&seconds=1' > /tmp/ward_http_delta.%d &", port,
		 (int)getpid());
	ASSERT_EQ(system(cmd), 0);
	usleep(300 * 1000);
	for (int i = 200; i < 250; i++)
		held[i] = cache_entry();
	sleep(2);
	snprintf(cmd, sizeof(cmd), "cat /tmp/ward_http_delta.%d; rm -f "
		 "/tmp/ward_http_delta.%d", (int)getpid(), (int)getpid());
	out = ward_test_run(cmd, NULL);
	ASSERT_CONTAINS(out, "50000"); /* the 50 new ones, not the 200 */
	ASSERT_TRUE(!strstr(out, "250000"));
	free(out);
	/* Every thread's stack now. */
	snprintf(cmd, sizeof(cmd), "curl -s 'http://127.0.0.1:%d/debug/pprof/"
		 "threads?debug=2'", port);
	out = ward_test_run(cmd, NULL);
	ASSERT_CONTAINS(out, "(main)");
	ASSERT_CONTAINS(out, "test_pages_text_delta_threads_and_unknown_paths");
	free(out);
	out = raw(port, "GET /etc/passwd HTTP/1.1\r\n\r\n", 28);
	ASSERT_CONTAINS(out, "HTTP/1.1 404");
	free(out);
	out = raw(port, "GET /debug/pprof/nosuchkind HTTP/1.1\r\n\r\n", 41);
	ASSERT_CONTAINS(out, "HTTP/1.1 404");
	free(out);
	out = raw(port, "POST /metrics HTTP/1.1\r\n\r\n", 26);
	ASSERT_CONTAINS(out, "HTTP/1.1 405");
	ASSERT_CONTAINS(out, "\r\nAllow: GET, HEAD\r\n");
	free(out);
	/* HEAD: GET's head, its Content-Length too, and no body. */
	static const char head[] = "HEAD /debug/pprof/ HTTP/1.1\r\n\r\n";
	out = raw(port, head, sizeof(head) - 1);
	ASSERT_CONTAINS(out, "HTTP/1.1 200");
	const char *cl = strstr(out, "Content-Length: ");
	ASSERT_NOT_NULL(cl);
	ASSERT_GT(atol(cl + 16), 100);
	ASSERT_TRUE(strstr(out, "\r\n\r\n") && strstr(out, "\r\n\r\n")[4] == '\0');
	free(out);
	out = raw(port, "GET /metrics FTP/9\r\n\r\n", 22);
	ASSERT_CONTAINS(out, "HTTP/1.1 400");
	free(out);
	done();
}

TEST(only_loopback_unless_asked)
{
	ward_test_capture_log();
	ASSERT_EQ(ward_http_start("0.0.0.0:0", 0), -EINVAL);
	ASSERT_CONTAINS(ward_test_logged, "not a loopback address");
	ASSERT_EQ(ward_http_start("nonsense", 0), -EINVAL);
	ASSERT_EQ(ward_http_start(NULL, 0), -EINVAL);
	int port = ward_http_start("0.0.0.0:0", WARD_HTTP_ANY_ADDRESS);
	ASSERT_GT(port, 0);
	ASSERT_EQ(ward_http_start("127.0.0.1:0", 0), -EALREADY);
	ward_http_stop();
	ward_http_stop(); /* twice: nothing */
}

static atomic_long work_done;
static atomic_bool work_stop;

static void *program_work(void *unused)
{
	while (!atomic_load(&work_stop)) {
		void *p = ward_malloc(64);
		ward_free(p);
		atomic_fetch_add(&work_done, 1);
	}
	return NULL;
}

static int client_port;
static atomic_int answered;

static void *client(void *unused)
{
	char *out = raw(client_port, "GET /metrics HTTP/1.1\r\n\r\n", 25);
	if (strstr(out, "HTTP/1.1 200") || strstr(out, "HTTP/1.1 503"))
		atomic_fetch_add(&answered, 1);
	free(out);
	return NULL;
}

TEST(oversize_silent_and_crowds_of_clients_never_stall_the_program)
{
	int port = serve();
	client_port = port;
	atomic_store(&work_stop, false);
	pthread_t worker;
	ASSERT_EQ(pthread_create(&worker, NULL, program_work, NULL), 0);

	/* An oversize request: refused. */
	size_t big = 20000;
	char *req = malloc(big);
	memcpy(req, "GET /metrics HTTP/1.1\r\nX: ", 26);
	memset(req + 26, 'a', big - 26);
	char *out = raw(port, req, big);
	ASSERT_CONTAINS(out, "HTTP/1.1 431");
	free(out);
	free(req);

	/* A client that connects and says nothing holds one slot; the next
	 * client is answered at once. */
	int silent = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT_EQ(connect(silent, (struct sockaddr *)&a, sizeof(a)), 0);
	out = raw(port, "GET /metrics HTTP/1.1\r\n\r\n", 25);
	ASSERT_CONTAINS(out, "HTTP/1.1 200");
	free(out);

	/* 100 clients at once: each gets an answer (200, or 503 when all
	 * slots are taken), none hangs. */
	long before = atomic_load(&work_done);
	atomic_store(&answered, 0);
	pthread_t c[100];
	for (int i = 0; i < 100; i++)
		ASSERT_EQ(pthread_create(&c[i], NULL, client, NULL), 0);
	for (int i = 0; i < 100; i++)
		pthread_join(c[i], NULL);
	ASSERT_EQ(atomic_load(&answered), 100);
	/* The program's own work went on meanwhile. */
	usleep(50 * 1000);
	ASSERT_GT(atomic_load(&work_done), before);

	/* The silent one is dropped after its time. */
	struct pollfd p = { silent, POLLIN, 0 };
	ASSERT_EQ(poll(&p, 1, 8000), 1);
	char x;
	ASSERT_EQ(recv(silent, &x, 1, 0), 0); /* closed by the server */
	close(silent);
	atomic_store(&work_stop, true);
	pthread_join(worker, NULL);
	done();
}
