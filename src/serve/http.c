/*
 * http.c — a small HTTP/1.1 server for the live endpoint (include/ward/
 * http.h). Hand-written rather than a library (civetweb, libmicrohttpd):
 * it is loaded into every traced program, answers a handful of GET paths,
 * and must add no dependency, no thread pool and no descriptor the program
 * did not ask for (docs/http.md has the reasoning).
 *
 * One thread polls the listening socket and up to MAX_CONNS connections.
 * A connection has REQUEST_MS to send its request line and headers (at
 * most WARD__HTTP_MAX bytes); then it is answered and closed (Connection:
 * close), the answer written with the same deadline. A slow or silent
 * client costs a slot, never the program's time: the program's threads
 * never wait for this one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/guard.h"
#include "core/lock.h"
#include "core/log.h"
#include "core/thread.h"
#include "scan/scan.h"
#include "serve/serve.h"
#include "ward/http.h"

enum { MAX_CONNS = 32, REQUEST_MS = 5000, FD_FLOOR = 600 };

/* ---- Parsing ------------------------------------------------------------- */

static bool token_char(char c)
{
	return c >= 'A' && c <= 'Z';
}

int ward__http_parse(const char *buf, size_t len, struct ward__http_req *out)
{
	/* The end of the headers. */
	size_t end = 0;
	for (size_t i = 0; i + 3 < len; i++)
		if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' &&
		    buf[i + 3] == '\n') {
			end = i + 4;
			break;
		}
	if (!end) {
		/* A bare-LF client (some tools) ends with "\n\n". */
		for (size_t i = 0; i + 1 < len; i++)
			if (buf[i] == '\n' && buf[i + 1] == '\n') {
				end = i + 2;
				break;
			}
	}
	if (!end)
		return len >= WARD__HTTP_MAX ? 431 : 0;
	/* METHOD SP TARGET SP HTTP/1.x */
	size_t i = 0, m = 0;
	while (i < end && token_char(buf[i])) {
		if (m + 1 >= sizeof(out->method))
			return 400;
		out->method[m++] = buf[i++];
	}
	out->method[m] = '\0';
	if (!m || i >= end || buf[i] != ' ')
		return 400;
	i++;
	if (i >= end || buf[i] != '/')
		return 400;
	size_t p = 0, q = 0;
	bool in_query = false;
	for (; i < end && buf[i] != ' '; i++) {
		char c = buf[i];
		if ((unsigned char)c <= 0x20 || c == 0x7f)
			return 400;
		if (c == '?' && !in_query) {
			in_query = true;
			continue;
		}
		if (in_query) {
			if (q + 1 >= sizeof(out->query))
				return 414;
			out->query[q++] = c;
		} else {
			if (p + 1 >= sizeof(out->path))
				return 414;
			out->path[p++] = c;
		}
	}
	out->path[p] = '\0';
	out->query[q] = '\0';
	if (i >= end || buf[i] != ' ')
		return 400;
	i++;
	if (end - i < 8 || memcmp(buf + i, "HTTP/1.", 7) != 0)
		return buf + i < buf + end && end - i >= 5 &&
				       memcmp(buf + i, "HTTP/", 5) == 0
			       ? 505
			       : 400;
	if (buf[i + 7] != '0' && buf[i + 7] != '1')
		return 505;
	i += 8;
	if (i < end && buf[i] == '\r')
		i++;
	if (i >= end || buf[i] != '\n')
		return 400;
	return 1;
}

int ward__http_query(const char *query, const char *name, char *val,
		     size_t len)
{
	size_t n = strlen(name);
	for (const char *s = query; s && *s;) {
		const char *amp = strchr(s, '&');
		size_t part = amp ? (size_t)(amp - s) : strlen(s);
		if (part > n && strncmp(s, name, n) == 0 && s[n] == '=') {
			size_t v = part - n - 1;
			if (v >= len)
				v = len - 1;
			memcpy(val, s + n + 1, v);
			val[v] = '\0';
			return 1;
		}
		s = amp ? amp + 1 : NULL;
	}
	return 0;
}

/* ---- The server ----------------------------------------------------------- */

struct conn {
	int fd;
	size_t len;
	uint64_t start_ms;
	char buf[WARD__HTTP_MAX];
};

static pthread_mutex_t server_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t server;
static bool running;
static int listen_fd = -1, wake[2] = { -1, -1 };
static volatile int stopping;
static struct conn *conns;

static uint64_t now_ms(void)
{
	return ward__now_ns() / 1000000;
}

/* Move fd above the numbers programs use first; CLOEXEC either way. */
static int high(int fd)
{
	if (fd < 0 || fd >= FD_FLOOR)
		return fd;
	int h = fcntl(fd, F_DUPFD_CLOEXEC, FD_FLOOR);
	if (h < 0)
		return fd; /* a low limit: keep it where it is */
	close(fd);
	return h;
}

/* Write all of buf before the deadline; false when the client is too
 * slow or gone. */
static bool send_all(int fd, const char *buf, size_t len, uint64_t deadline)
{
	while (len) {
		ssize_t w = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			buf += w;
			len -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return false;
		uint64_t now = now_ms();
		if (now >= deadline || stopping)
			return false;
		struct pollfd p = { fd, POLLOUT, 0 };
		poll(&p, 1, (int)(deadline - now > 200 ? 200 : deadline - now));
	}
	return true;
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

/* The answer: its head, and the body unless it was asked for by HEAD
 * (whose Content-Length is still the body's, as GET would have it). */
static void respond(int fd, int status, const char *type, const char *body,
		    size_t len, bool head_only)
{
	char head[320];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n%s"
			 "X-Content-Type-Options: nosniff\r\n\r\n",
			 status, reason(status), type, len,
			 status == 405 ? "Allow: GET, HEAD\r\n" : "");
	uint64_t deadline = now_ms() + REQUEST_MS;
	if (send_all(fd, head, (size_t)n, deadline) && !head_only)
		send_all(fd, body, len, deadline);
}

static void answer(struct conn *c, int parsed, const struct ward__http_req *r)
{
	struct ward__buf body = { 0 };
	const char *type = "text/plain; charset=utf-8";
	int status = parsed;
	if (parsed == 1) {
		if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0)
			status = 405;
		else
			status = ward__http_answer(r, &body, &type, &stopping);
	}
	if (status != 200 && body.len == 0) {
		char msg[64];
		int n = snprintf(msg, sizeof(msg), "%d %s\n", status,
				 reason(status));
		ward__buf_add(&body, msg, (size_t)n);
	}
	if (body.oom) {
		status = 500;
		free(body.p);
		body = (struct ward__buf){ 0 };
		ward__buf_add(&body, "500 out of memory\n", 18);
	}
	respond(c->fd, status, type, body.p ? body.p : "", body.len,
		parsed == 1 && strcmp(r->method, "HEAD") == 0);
	free(body.p);
}

static void drop(struct conn *c)
{
	close(c->fd);
	c->fd = -1;
	c->len = 0;
}

static void serve_loop(void)
{
	struct pollfd p[MAX_CONNS + 2];
	for (;;) {
		if (stopping)
			return;
		int n = 0;
		p[n++] = (struct pollfd){ wake[0], POLLIN, 0 };
		p[n++] = (struct pollfd){ listen_fd, POLLIN, 0 };
		int map[MAX_CONNS];
		for (int i = 0; i < MAX_CONNS; i++)
			if (conns[i].fd >= 0) {
				map[n - 2] = i;
				p[n++] = (struct pollfd){ conns[i].fd, POLLIN, 0 };
			}
		if (poll(p, (nfds_t)n, 500) < 0 && errno != EINTR) {
			ward__log(WARD_LOG_WARN, "ward: http: poll: %s; the "
				  "endpoint stops\n", strerror(errno));
			return;
		}
		if (p[0].revents)
			return;
		uint64_t now = now_ms();
		for (int k = 2; k < n; k++) {
			struct conn *c = &conns[map[k - 2]];
			if (p[k].revents & (POLLIN | POLLHUP | POLLERR)) {
				ssize_t r = recv(c->fd, c->buf + c->len,
						 sizeof(c->buf) - c->len,
						 MSG_DONTWAIT);
				if (r <= 0 && !(r < 0 && (errno == EAGAIN ||
							  errno == EINTR))) {
					drop(c);
					continue;
				}
				if (r > 0)
					c->len += (size_t)r;
				struct ward__http_req req;
				int parsed = ward__http_parse(c->buf, c->len, &req);
				if (parsed != 0) {
					answer(c, parsed, &req);
					drop(c);
					continue;
				}
			}
			if (now - c->start_ms > REQUEST_MS)
				drop(c); /* too slow: the slot is for others */
		}
		if (p[1].revents & POLLIN) {
			int fd = accept4(listen_fd, NULL, NULL,
					 SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (fd >= 0) {
				fd = high(fd);
				int slot = -1;
				for (int i = 0; i < MAX_CONNS && slot < 0; i++)
					if (conns[i].fd < 0)
						slot = i;
				if (slot < 0) {
					static const char busy[] =
						"HTTP/1.1 503 Service Unavailable\r\n"
						"Content-Length: 0\r\nConnection: close\r\n\r\n";
					send(fd, busy, sizeof(busy) - 1,
					     MSG_NOSIGNAL | MSG_DONTWAIT);
					close(fd);
				} else {
					conns[slot].fd = fd;
					conns[slot].len = 0;
					conns[slot].start_ms = now;
				}
			} else if (errno == EBADF || errno == EINVAL ||
				   errno == ENOTSOCK) {
				/* The program closed ward's socket. */
				ward__log(WARD_LOG_WARN, "ward: http: the "
					  "listening socket is gone (%s); the "
					  "endpoint stops\n", strerror(errno));
				return;
			}
		}
	}
}

static void *server_main(void *arg)
{
	(void)arg;
	ward__guard_raise(); /* what the server allocates is ward's */
	serve_loop();
	for (int i = 0; i < MAX_CONNS; i++)
		if (conns[i].fd >= 0)
			drop(&conns[i]);
	return NULL;
}

/* Parse "HOST:PORT", "[V6]:PORT" or ":PORT" into a socket address. */
static int parse_addr(const char *addr, struct sockaddr_storage *ss,
		      socklen_t *len, bool *loopback)
{
	char host[128];
	const char *colon = strrchr(addr, ':');
	if (!colon || !colon[1])
		return -EINVAL;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535)
		return -EINVAL;
	size_t hl = (size_t)(colon - addr);
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, addr, hl);
	host[hl] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (hl == 0 || strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	if (host[0] == '[') {
		size_t n = strlen(host);
		if (n < 3 || host[n - 1] != ']')
			return -EINVAL;
		host[n - 1] = '\0';
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			return -EINVAL;
		*loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
		*len = sizeof(*s6);
		return 0;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
		return -EINVAL;
	*loopback = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	*len = sizeof(*s4);
	return 0;
}

WARD_API int ward_http_start(const char *addr, int flags)
{
	struct sockaddr_storage ss;
	socklen_t slen;
	bool loopback = false;
	if (!addr || parse_addr(addr, &ss, &slen, &loopback) < 0)
		return -EINVAL;
	if (!loopback && !(flags & WARD_HTTP_ANY_ADDRESS)) {
		ward__log(WARD_LOG_WARN, "ward: http: %s is not a loopback "
			  "address; the endpoint listens elsewhere only when "
			  "asked to (WARD_HTTP_ANY_ADDRESS, WARD_HTTP_REMOTE=1)\n",
			  addr);
		return -EINVAL;
	}
	ward__mutex_lock(&server_lock);
	if (running) {
		ward__mutex_unlock(&server_lock);
		return -EALREADY;
	}
	ward__guard_raise();
	int rc = 0;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);
	int one = 1;
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, slen) < 0 || listen(fd, 64) < 0)
		rc = -errno;
	if (!conns && rc == 0) {
		conns = calloc(MAX_CONNS, sizeof(*conns));
		if (!conns)
			rc = -ENOMEM;
	}
	if (rc == 0 && pipe2(wake, O_CLOEXEC | O_NONBLOCK) < 0)
		rc = -errno;
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	if (rc == 0 && getsockname(fd, (struct sockaddr *)&bound, &blen) < 0)
		rc = -errno;
	if (rc == 0) {
		listen_fd = high(fd);
		wake[0] = high(wake[0]);
		wake[1] = high(wake[1]);
		for (int i = 0; i < MAX_CONNS; i++)
			conns[i].fd = -1;
		stopping = 0;
		rc = ward__thread_start(&server, server_main, NULL, false,
					ward__stop_signal());
		running = rc == 0;
	}
	if (rc < 0) {
		if (fd >= 0)
			close(listen_fd >= 0 ? listen_fd : fd);
		listen_fd = -1;
		for (int i = 0; i < 2; i++)
			if (wake[i] >= 0)
				close(wake[i]);
		wake[0] = wake[1] = -1;
	}
	ward__guard_lower();
	ward__mutex_unlock(&server_lock);
	if (rc < 0)
		return rc;
	return ntohs(bound.ss_family == AF_INET6
			     ? ((struct sockaddr_in6 *)&bound)->sin6_port
			     : ((struct sockaddr_in *)&bound)->sin_port);
}

WARD_API void ward_http_stop(void)
{
	ward__mutex_lock(&server_lock);
	if (running) {
		stopping = 1;
		(void)!write(wake[1], "x", 1);
		pthread_join(server, NULL);
		close(listen_fd);
		close(wake[0]);
		close(wake[1]);
		listen_fd = wake[0] = wake[1] = -1;
		running = false;
	}
	ward__mutex_unlock(&server_lock);
}

bool ward__http_owns(int fd)
{
	if (!running || fd < 0)
		return false;
	if (fd == listen_fd || fd == wake[0] || fd == wake[1])
		return true;
	for (int i = 0; conns && i < MAX_CONNS; i++)
		if (__atomic_load_n(&conns[i].fd, __ATOMIC_RELAXED) == fd)
			return true;
	return false;
}

void ward__http_forked(void)
{
	/* The child has one thread, this one: no lock is held by another. */
	if (!running)
		return;
	close(listen_fd);
	close(wake[0]);
	close(wake[1]);
	for (int i = 0; i < MAX_CONNS; i++)
		if (conns[i].fd >= 0) {
			close(conns[i].fd);
			conns[i].fd = -1;
		}
	listen_fd = wake[0] = wake[1] = -1;
	running = false;
	pthread_mutex_init(&server_lock, NULL);
}
