/* The CPU floor of an endpoint session: the least a prober must do to see one SMTP server's
 * certificate the way a strict sending MTA does. Per session: connect, read the 220 greeting,
 * EHLO, STARTTLS, one TLS handshake with chain verification against the given root
 * (SSL_VERIFY_PEER, host name checked against the endpoint's name, no session resumption),
 * QUIT with close_notify, close. Nothing else: no reporting, no DNS (endpoints are addresses).
 *
 * usage: floor_client --ca=ROOT.pem --sessions=N [--threads=K] [--ehlo=NAME]
 *                     NAME@ADDR:PORT...
 * Session i goes to endpoint i mod (number of endpoints); K threads share the N sessions.
 * Prints one line: "sessions=N failures=F wall_s=W cpu_s=C" where cpu_s is this process's
 * user+system CPU (getrusage RUSAGE_SELF) over its whole life, set-up included (small: one
 * SSL_CTX and one trust store load). Exits 1 if any session failed. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct endpoint {
  char name[256];
  struct sockaddr_in addr;
};

static struct endpoint *endpoints;
static int n_endpoints;
static long total_sessions;
static atomic_long next_session;
static atomic_long failures;
static SSL_CTX *ctx;
static const char *ehlo_name = "floor.bench.test";
static int verbose;

/* Reads one SMTP reply (all its lines) from fd; returns its code, -1 on error. */
static int read_reply(int fd, char *buf, size_t cap) {
  size_t len = 0;
  for (;;) {
    /* A complete reply ends with a line "NNN " + text + CRLF. */
    char *line = buf;
    char *nl;
    buf[len] = 0;
    while ((nl = strstr(line, "\r\n")) != NULL) {
      if (nl - line >= 4 && line[3] == ' ') return atoi(line);
      line = nl + 2;
    }
    if (len + 1 >= cap) return -1;
    /* One byte at a time would be slow; the server sends nothing after its reply before we
     * speak, so reading what is there cannot swallow TLS bytes. */
    ssize_t n = read(fd, buf + len, cap - 1 - len);
    if (n <= 0) return -1;
    len += (size_t)n;
  }
}

static int send_line(int fd, const char *line) {
  size_t len = strlen(line);
  return write(fd, line, len) == (ssize_t)len ? 0 : -1;
}

static int one_session(const struct endpoint *ep) {
  char buf[4096], cmd[300];
  int ok = 0;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  SSL *ssl = NULL;
  if (connect(fd, (const struct sockaddr *)&ep->addr, sizeof ep->addr) != 0) goto out;
  if (read_reply(fd, buf, sizeof buf) != 220) goto out;
  snprintf(cmd, sizeof cmd, "EHLO %s\r\n", ehlo_name);
  if (send_line(fd, cmd) || read_reply(fd, buf, sizeof buf) != 250) goto out;
  if (!strstr(buf, "STARTTLS")) goto out;
  if (send_line(fd, "STARTTLS\r\n") || read_reply(fd, buf, sizeof buf) != 220) goto out;
  ssl = SSL_new(ctx);
  if (!ssl) goto out;
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, ep->name);
  SSL_set1_host(ssl, ep->name);
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
  if (SSL_connect(ssl) != 1 || SSL_get_verify_result(ssl) != X509_V_OK) goto out;
  /* QUIT inside TLS; the 221 is not waited for (a prober need not), close_notify is sent. */
  SSL_write(ssl, "QUIT\r\n", 6);
  SSL_shutdown(ssl);
  ok = 1;
out:
  if (!ok && verbose) {
    fprintf(stderr, "floor_client: session to %s failed\n", ep->name);
    ERR_print_errors_fp(stderr);
  }
  ERR_clear_error();
  if (ssl) SSL_free(ssl);
  close(fd);
  return ok ? 0 : -1;
}

static void *worker(void *arg) {
  (void)arg;
  for (;;) {
    long i = atomic_fetch_add(&next_session, 1);
    if (i >= total_sessions) return NULL;
    if (one_session(&endpoints[i % n_endpoints]) != 0) atomic_fetch_add(&failures, 1);
  }
}

static void usage(const char *why) {
  fprintf(stderr,
          "floor_client: %s\nusage: floor_client --ca=ROOT.pem --sessions=N [--threads=K] "
          "[--ehlo=NAME] [--verbose] NAME@ADDR:PORT...\n",
          why);
  exit(2);
}

int main(int argc, char **argv) {
  const char *ca = NULL;
  int threads = 1;
  endpoints = calloc((size_t)argc, sizeof *endpoints);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strncmp(a, "--ca=", 5)) {
      ca = a + 5;
    } else if (!strncmp(a, "--sessions=", 11)) {
      total_sessions = atol(a + 11);
    } else if (!strncmp(a, "--threads=", 10)) {
      threads = atoi(a + 10);
    } else if (!strncmp(a, "--ehlo=", 7)) {
      ehlo_name = a + 7;
    } else if (!strcmp(a, "--verbose")) {
      verbose = 1;
    } else if (a[0] != '-' && strchr(a, '@')) {
      struct endpoint *ep = &endpoints[n_endpoints];
      const char *at = strchr(a, '@'), *colon = strrchr(a, ':');
      if (!colon || colon < at || (size_t)(at - a) >= sizeof ep->name) usage("bad endpoint");
      memcpy(ep->name, a, (size_t)(at - a));
      char host[64];
      size_t hl = (size_t)(colon - at - 1);
      if (hl >= sizeof host) usage("bad endpoint address");
      memcpy(host, at + 1, hl);
      host[hl] = 0;
      ep->addr.sin_family = AF_INET;
      ep->addr.sin_port = htons((uint16_t)atoi(colon + 1));
      if (inet_pton(AF_INET, host, &ep->addr.sin_addr) != 1) usage("endpoint address must be IPv4");
      n_endpoints++;
    } else {
      usage("unknown argument");
    }
  }
  if (!ca || total_sessions <= 0 || threads <= 0 || n_endpoints == 0) usage("missing arguments");

  ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx || SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) usage("cannot load the CA file");
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);

  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pthread_t *tids = calloc((size_t)threads, sizeof *tids);
  for (int i = 0; i < threads; i++) pthread_create(&tids[i], NULL, worker, NULL);
  for (int i = 0; i < threads; i++) pthread_join(tids[i], NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);

  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
               ru.ru_stime.tv_usec / 1e6;
  double wall = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  long failed = atomic_load(&failures);
  printf("sessions=%ld failures=%ld wall_s=%.3f cpu_s=%.3f\n", total_sessions, failed, wall, cpu);
  SSL_CTX_free(ctx);
  return failed ? 1 : 0;
}
