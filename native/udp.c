/*
 * Batched UDP for the CoAP endpoint (Linux): recvmmsg and sendmmsg on a non-blocking
 * socket watched by the Node event loop (uv_poll). node:dgram makes one recvmsg, one
 * 64 KiB allocation and one Buffer made in C++ per datagram received, and one sendmsg per
 * datagram sent; here one system call carries a batch each way. Each received datagram
 * still gets a call into JavaScript of its own (as with node:dgram), so that the promise
 * jobs it starts run before the next datagram is handled.
 *
 * Datagram memory is owned by JavaScript: a socket is opened with the receive area (a slot
 * of RECV_SLOT bytes per datagram) and an Int32Array for each datagram's length and port,
 * and JavaScript copies each datagram out during the callback; `send` is given the area
 * JavaScript has copied the datagrams into, with their offsets, lengths and ports. Only the
 * message headers for the system calls live here (per environment: one thread's calls never
 * overlap).
 *
 * Exports:
 *   open(host, port, receiveBufferBytes, recvArea: Buffer, recvMeta: Int32Array,
 *        onReceive(index, address), onError(errno, syscall)) → socket
 *                                                     (throws { errno, code, syscall })
 *   address(socket) → [address, port, family]
 *   send(socket, first, count, addresses, sendArea: Buffer, sendMeta: Int32Array,
 *        sendErrors: Int32Array) → how many failed (their errno in sendErrors[i - first])
 *   close(socket, onClosed())
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

/* Datagrams per recvmmsg and the room each gets: a UDP payload is at most 65,527 bytes. */
#define RECV_BATCH 64
#define RECV_SLOT 65536
/* Datagrams per sendmmsg; JavaScript flushes before it queues more than this. */
#define SEND_BATCH 256
/* An address as text: IPv6, '%', an interface name or index. */
#define ADDR_TEXT (INET6_ADDRSTRLEN + IF_NAMESIZE + 2)
/* Receive rounds per readiness event before other work gets the loop back. */
#define RECV_ROUNDS 8

/* System-call scratch of one environment (thread); nothing in it outlives a call. */
typedef struct {
  struct mmsghdr recv_msgs[RECV_BATCH];
  struct iovec recv_iov[RECV_BATCH];
  struct sockaddr_in6 recv_addr[RECV_BATCH];
  struct mmsghdr send_msgs[SEND_BATCH];
  struct iovec send_iov[SEND_BATCH];
  struct sockaddr_in6 send_addr[SEND_BATCH];
  int send_index[SEND_BATCH];
} shared_t;

typedef struct {
  napi_env env;
  shared_t *shared;
  uint8_t *recv_area; /* RECV_BATCH slots of RECV_SLOT bytes */
  int32_t *recv_meta; /* per datagram: length, port */
  napi_ref recv_refs[2];
  int fd;
  int family;
  int closing;
  /* Freed when both the JavaScript handle is collected and the poll handle is closed. */
  int holders;
  uv_poll_t poll;
  napi_ref on_receive;
  napi_ref on_error;
  napi_ref on_closed;
  napi_ref resource;
  napi_async_context context;
} socket_t;

#define CHECK(env, call)                                        \
  do {                                                          \
    if ((call) != napi_ok) {                                    \
      napi_throw_error((env), "ERR_NATIVE_UDP", #call " failed"); \
      return NULL;                                              \
    }                                                           \
  } while (0)

static napi_value throw_errno(napi_env env, int err, const char *syscall) {
  napi_value message, error, code, number, call;
  char text[160];
  snprintf(text, sizeof text, "%s %s (%s)", syscall, strerror(err), uv_err_name(uv_translate_sys_error(err)));
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, NULL, message, &error);
  napi_create_string_utf8(env, uv_err_name(uv_translate_sys_error(err)), NAPI_AUTO_LENGTH, &code);
  napi_create_int32(env, err, &number);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &call);
  napi_set_named_property(env, error, "code", code);
  napi_set_named_property(env, error, "errno", number);
  napi_set_named_property(env, error, "syscall", call);
  napi_throw(env, error);
  return NULL;
}

static void shared_free(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

/* This environment's scratch, made on first use (NULL when out of memory). */
static shared_t *shared_of(napi_env env) {
  shared_t *shared = NULL;
  napi_get_instance_data(env, (void **)&shared);
  if (shared != NULL) return shared;
  shared = calloc(1, sizeof *shared);
  if (shared == NULL) return NULL;
  if (napi_set_instance_data(env, shared, shared_free, NULL) != napi_ok) {
    free(shared);
    return NULL;
  }
  return shared;
}

/* A Buffer's or Int32Array's bytes (at least min_bytes), or NULL. */
static void *bytes_of(napi_env env, napi_value value, size_t min_bytes) {
  bool is_buffer = false, is_typed = false;
  void *data = NULL;
  size_t length = 0;
  napi_is_buffer(env, value, &is_buffer);
  if (is_buffer) {
    if (napi_get_buffer_info(env, value, &data, &length) != napi_ok) return NULL;
  } else {
    napi_is_typedarray(env, value, &is_typed);
    if (!is_typed) return NULL;
    napi_typedarray_type type;
    size_t count, offset;
    napi_value array_buffer;
    if (napi_get_typedarray_info(env, value, &type, &count, &data, &array_buffer, &offset) != napi_ok) return NULL;
    if (type != napi_int32_array) return NULL;
    length = count * 4;
  }
  return length >= min_bytes ? data : NULL;
}

/* Calls a JavaScript callback the way Node calls its own I/O callbacks (ticks and microtasks run after). */
static void call_back(socket_t *s, napi_ref ref, size_t argc, napi_value *argv) {
  napi_env env = s->env;
  napi_value fn, resource, ignored;
  if (ref == NULL || napi_get_reference_value(env, ref, &fn) != napi_ok || fn == NULL) return;
  napi_get_reference_value(env, s->resource, &resource);
  if (napi_make_callback(env, s->context, resource, fn, argc, argv, &ignored) == napi_pending_exception) {
    napi_value exception;
    napi_get_and_clear_last_exception(env, &exception);
    napi_fatal_exception(env, exception);
  }
}

static void report_error(socket_t *s, int err, const char *syscall) {
  napi_value argv[2];
  napi_create_int32(s->env, err, &argv[0]);
  napi_create_string_utf8(s->env, syscall, NAPI_AUTO_LENGTH, &argv[1]);
  call_back(s, s->on_error, 2, argv);
}

static int port_of(const struct sockaddr_in6 *addr) {
  return addr->sin6_family == AF_INET6 ? ntohs(addr->sin6_port) : ntohs(((const struct sockaddr_in *)addr)->sin_port);
}

/* Whether two peers have the same address (ports aside). */
static int same_host(const struct sockaddr_in6 *a, const struct sockaddr_in6 *b) {
  if (a->sin6_family != b->sin6_family) return 0;
  if (a->sin6_family == AF_INET6)
    return memcmp(&a->sin6_addr, &b->sin6_addr, 16) == 0 && a->sin6_scope_id == b->sin6_scope_id;
  return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
}

/*
 * The peer's address as node:dgram spells it (an IPv4 peer of a dual-stack socket is
 * ::ffff:a.b.c.d); a link-local IPv6 peer carries its interface (fe80::1%wpan0), so that
 * an answer sent to that text goes out where the request came in.
 */
static napi_value address_string(napi_env env, const struct sockaddr_in6 *addr, int *port) {
  char text[ADDR_TEXT];
  napi_value value = NULL;
  if (addr->sin6_family == AF_INET6) {
    inet_ntop(AF_INET6, &addr->sin6_addr, text, INET6_ADDRSTRLEN);
    if (addr->sin6_scope_id != 0 && IN6_IS_ADDR_LINKLOCAL(&addr->sin6_addr)) {
      size_t at = strlen(text);
      text[at] = '%';
      if (if_indextoname(addr->sin6_scope_id, text + at + 1) == NULL)
        snprintf(text + at + 1, sizeof text - at - 1, "%u", (unsigned)addr->sin6_scope_id);
    }
  } else {
    inet_ntop(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr, text, sizeof text);
  }
  *port = port_of(addr);
  napi_create_string_latin1(env, text, NAPI_AUTO_LENGTH, &value);
  return value;
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  socket_t *s = handle->data;
  shared_t *sh = s->shared;
  napi_env env = s->env;
  (void)events;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  if (status < 0) {
    /* The socket is unusable (it would report this again at every turn): stop watching it. */
    uv_poll_stop(&s->poll);
    report_error(s, -status, "poll");
    napi_close_handle_scope(env, scope);
    return;
  }
  for (int round = 0; round < RECV_ROUNDS && !s->closing; round++) {
    for (int i = 0; i < RECV_BATCH; i++) {
      struct msghdr *h = &sh->recv_msgs[i].msg_hdr;
      memset(h, 0, sizeof *h);
      sh->recv_iov[i].iov_base = s->recv_area + (size_t)i * RECV_SLOT;
      sh->recv_iov[i].iov_len = RECV_SLOT;
      h->msg_name = &sh->recv_addr[i];
      h->msg_namelen = sizeof sh->recv_addr[i];
      h->msg_iov = &sh->recv_iov[i];
      h->msg_iovlen = 1;
    }
    int n = recvmmsg(s->fd, sh->recv_msgs, RECV_BATCH, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) report_error(s, errno, "recvmmsg");
      break;
    }
    if (n == 0) break;
    napi_handle_scope inner;
    napi_open_handle_scope(env, &inner);
    napi_value previous = NULL;
    for (int i = 0; i < n && !s->closing; i++) {
      int port = 0;
      napi_value address;
      /* Consecutive datagrams from one host share its string (the port is kept apart). */
      if (previous != NULL && same_host(&sh->recv_addr[i], &sh->recv_addr[i - 1])) {
        address = previous;
        port = port_of(&sh->recv_addr[i]);
      } else {
        address = address_string(env, &sh->recv_addr[i], &port);
      }
      previous = address;
      s->recv_meta[2 * i] = (int32_t)sh->recv_msgs[i].msg_len;
      s->recv_meta[2 * i + 1] = port;
      /*
       * One call a datagram, as node:dgram makes: the promise jobs and ticks one datagram
       * starts run before the next datagram is handled, so effects follow the wire order.
       */
      napi_value argv[2];
      napi_create_int32(env, i, &argv[0]);
      argv[1] = address;
      call_back(s, s->on_receive, 2, argv);
    }
    napi_close_handle_scope(env, inner);
    if (n < RECV_BATCH) break;
  }
  napi_close_handle_scope(env, scope);
}

static void socket_release(socket_t *s) {
  if (--s->holders == 0) free(s);
}

static void socket_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  socket_release(data);
}

static void socket_free(uv_handle_t *handle) {
  socket_t *s = handle->data;
  napi_env env = s->env;
  napi_handle_scope scope;
  int scoped = napi_open_handle_scope(env, &scope) == napi_ok;
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
  if (scoped) call_back(s, s->on_closed, 0, NULL);
  if (s->on_receive) napi_delete_reference(env, s->on_receive);
  if (s->on_error) napi_delete_reference(env, s->on_error);
  if (s->on_closed) napi_delete_reference(env, s->on_closed);
  if (s->resource) napi_delete_reference(env, s->resource);
  for (int i = 0; i < 2; i++)
    if (s->recv_refs[i]) napi_delete_reference(env, s->recv_refs[i]);
  if (s->context) napi_async_destroy(env, s->context);
  s->on_receive = s->on_error = s->on_closed = s->resource = s->recv_refs[0] = s->recv_refs[1] = NULL;
  s->context = NULL;
  if (scoped) napi_close_handle_scope(env, scope);
  socket_release(s);
}

/*
 * At environment teardown (process or worker exit) a socket still open is closed without
 * calling JavaScript; its poll handle is closed too, so that the loop can be closed. The
 * close has no callback: Node may unload this add-on before the loop finishes closing, so
 * no code of ours may run then, and the few bytes of the socket are left to the exit.
 */
static void socket_cleanup(void *data) {
  socket_t *s = data;
  if (s->closing) return;
  s->closing = 1;
  uv_poll_stop(&s->poll);
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
  uv_close((uv_handle_t *)&s->poll, NULL);
}

/* An IP literal (IPv6 with an optional %interface or %index) and a port; 0 when it is none. */
static int parse_address(const char *text, int port, struct sockaddr_in6 *out, socklen_t *len, int family) {
  memset(out, 0, sizeof *out);
  if (family == AF_INET6) {
    char bare[ADDR_TEXT];
    const char *zone = strchr(text, '%');
    if (zone != NULL) {
      size_t n = (size_t)(zone - text);
      if (n >= INET6_ADDRSTRLEN || zone[1] == '\0') return 0;
      memcpy(bare, text, n);
      bare[n] = '\0';
      char *end = NULL;
      unsigned long index = strtoul(zone + 1, &end, 10);
      out->sin6_scope_id = end != NULL && *end == '\0' ? (uint32_t)index : if_nametoindex(zone + 1);
      if (out->sin6_scope_id == 0) return 0;
      text = bare;
    }
    if (inet_pton(AF_INET6, text, &out->sin6_addr) != 1) return 0;
    out->sin6_family = AF_INET6;
    out->sin6_port = htons((uint16_t)port);
    *len = sizeof(struct sockaddr_in6);
    return 1;
  }
  struct sockaddr_in *v4 = (struct sockaddr_in *)out;
  if (inet_pton(AF_INET, text, &v4->sin_addr) != 1) return 0;
  v4->sin_family = AF_INET;
  v4->sin_port = htons((uint16_t)port);
  *len = sizeof(struct sockaddr_in);
  return 1;
}

static napi_value open_socket(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  char host[ADDR_TEXT];
  size_t host_len = 0;
  int32_t port = 0, rcvbuf = 0;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  shared_t *sh = shared_of(env);
  if (sh == NULL) {
    napi_throw_error(env, "ERR_NATIVE_UDP", "out of memory");
    return NULL;
  }
  void *recv_area = argc == 7 ? bytes_of(env, argv[3], (size_t)RECV_BATCH * RECV_SLOT) : NULL;
  void *recv_meta = argc == 7 ? bytes_of(env, argv[4], RECV_BATCH * 2 * 4) : NULL;
  if (napi_get_value_string_latin1(env, argv[0], host, sizeof host, &host_len) != napi_ok ||
      host_len >= sizeof host - 1 || napi_get_value_int32(env, argv[1], &port) != napi_ok ||
      napi_get_value_int32(env, argv[2], &rcvbuf) != napi_ok ||
      port < 0 || port > 65535 || recv_area == NULL || recv_meta == NULL) {
    napi_throw_type_error(env, "ERR_NATIVE_UDP", "open(host, port, receiveBufferBytes, recvArea, recvMeta, onReceive, onError)");
    return NULL;
  }
  struct sockaddr_in6 addr;
  socklen_t addr_len;
  int family = strchr(host, ':') != NULL ? AF_INET6 : AF_INET;
  if (!parse_address(host, port, &addr, &addr_len, family)) return throw_errno(env, EINVAL, "bind");
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket");
  if (family == AF_INET6) {
    int off = 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  }
  if (bind(fd, (struct sockaddr *)&addr, addr_len) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "bind");
  }
  if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf); /* best effort */

  socket_t *s = calloc(1, sizeof *s);
  if (s == NULL) {
    close(fd);
    napi_throw_error(env, "ERR_NATIVE_UDP", "out of memory");
    return NULL;
  }
  s->env = env;
  s->shared = sh;
  s->recv_area = recv_area;
  s->recv_meta = recv_meta;
  s->fd = fd;
  s->family = family;
  s->holders = 2;
  napi_value resource, name, external;
  napi_create_object(env, &resource);
  napi_create_string_utf8(env, "lwm2m-fota:udp", NAPI_AUTO_LENGTH, &name);
  if (napi_create_reference(env, argv[3], 1, &s->recv_refs[0]) != napi_ok ||
      napi_create_reference(env, argv[4], 1, &s->recv_refs[1]) != napi_ok ||
      napi_create_reference(env, argv[5], 1, &s->on_receive) != napi_ok ||
      napi_create_reference(env, argv[6], 1, &s->on_error) != napi_ok ||
      napi_create_reference(env, resource, 1, &s->resource) != napi_ok ||
      napi_async_init(env, resource, name, &s->context) != napi_ok) {
    close(fd);
    free(s);
    napi_throw_error(env, "ERR_NATIVE_UDP", "cannot keep the callbacks");
    return NULL;
  }
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  int rc = uv_poll_init(loop, &s->poll, fd);
  if (rc == 0) rc = uv_poll_start(&s->poll, UV_READABLE, on_readable);
  if (rc != 0) {
    close(fd);
    free(s);
    napi_throw_error(env, "ERR_NATIVE_UDP", uv_strerror(rc));
    return NULL;
  }
  s->poll.data = s;
  napi_add_env_cleanup_hook(env, socket_cleanup, s);
  CHECK(env, napi_create_external(env, s, socket_finalize, NULL, &external));
  return external;
}

static socket_t *socket_arg(napi_env env, napi_value value) {
  socket_t *s = NULL;
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external) return NULL;
  napi_get_value_external(env, value, (void **)&s);
  return s;
}

static napi_value socket_address(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result, port_value, family_value;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  socket_t *s = socket_arg(env, argv[0]);
  if (s == NULL || s->fd < 0) {
    napi_throw_error(env, "ERR_NATIVE_UDP", "address: not an open socket");
    return NULL;
  }
  struct sockaddr_in6 addr;
  socklen_t len = sizeof addr;
  if (getsockname(s->fd, (struct sockaddr *)&addr, &len) != 0) return throw_errno(env, errno, "getsockname");
  int port = 0;
  napi_value address = address_string(env, &addr, &port);
  napi_create_array_with_length(env, 3, &result);
  napi_create_int32(env, port, &port_value);
  napi_create_string_latin1(env, addr.sin6_family == AF_INET6 ? "IPv6" : "IPv4", NAPI_AUTO_LENGTH, &family_value);
  napi_set_element(env, result, 0, address);
  napi_set_element(env, result, 1, port_value);
  napi_set_element(env, result, 2, family_value);
  return result;
}

/* Waits up to `ms` for room in the socket's send buffer. */
static int wait_writable(int fd, int ms) {
  struct pollfd p = {.fd = fd, .events = POLLOUT};
  return poll(&p, 1, ms) > 0;
}

/*
 * send(socket, first, count, addresses): datagram i (first <= i < first + count) is
 * send_area[offset .. offset + length) to addresses[i] port; returns how many failed, with
 * their errno in send_errors[i - first] (0 for the ones sent).
 */
static napi_value socket_send(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7], result;
  int32_t first = 0, count = 0;
  size_t area_length = 0;
  uint8_t *area = NULL;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  socket_t *s = argc == 7 ? socket_arg(env, argv[0]) : NULL;
  shared_t *sh = shared_of(env);
  bool is_buffer = false;
  if (s != NULL) napi_is_buffer(env, argv[4], &is_buffer);
  if (is_buffer && napi_get_buffer_info(env, argv[4], (void **)&area, &area_length) != napi_ok) area = NULL;
  if (s == NULL || sh == NULL || area == NULL || napi_get_value_int32(env, argv[1], &first) != napi_ok ||
      napi_get_value_int32(env, argv[2], &count) != napi_ok || first < 0 || count < 0 || count > SEND_BATCH) {
    napi_throw_error(env, "ERR_NATIVE_UDP", "send(socket, first, count, addresses, sendArea, sendMeta, sendErrors)");
    return NULL;
  }
  int32_t *send_meta = bytes_of(env, argv[5], (size_t)(first + count) * 3 * 4);
  int32_t *send_errors = bytes_of(env, argv[6], (size_t)count * 4);
  if (send_meta == NULL || send_errors == NULL) {
    napi_throw_error(env, "ERR_NATIVE_UDP", "send: sendMeta or sendErrors too small");
    return NULL;
  }
  int failed = 0, m = 0;
  for (int i = 0; i < count; i++) {
    send_errors[i] = 0;
    if (s->closing || s->fd < 0) {
      send_errors[i] = EBADF;
      failed++;
      continue;
    }
    napi_value value;
    char text[ADDR_TEXT];
    size_t text_len = 0;
    socklen_t addr_len = 0;
    int32_t *meta = &send_meta[3 * (first + i)];
    if (napi_get_element(env, argv[3], (uint32_t)(first + i), &value) != napi_ok ||
        napi_get_value_string_latin1(env, value, text, sizeof text, &text_len) != napi_ok ||
        text_len >= sizeof text - 1 || meta[2] < 0 || meta[2] > 65535 || meta[0] < 0 || meta[1] < 0 ||
        (size_t)meta[0] + (size_t)meta[1] > area_length ||
        !parse_address(text, meta[2], &sh->send_addr[m], &addr_len, s->family)) {
      send_errors[i] = EINVAL;
      failed++;
      continue;
    }
    struct msghdr *h = &sh->send_msgs[m].msg_hdr;
    memset(h, 0, sizeof *h);
    sh->send_iov[m].iov_base = area + meta[0];
    sh->send_iov[m].iov_len = (size_t)meta[1];
    h->msg_name = &sh->send_addr[m];
    h->msg_namelen = addr_len;
    h->msg_iov = &sh->send_iov[m];
    h->msg_iovlen = 1;
    sh->send_index[m] = i;
    m++;
  }
  int done = 0, waits = 0;
  while (done < m) {
    int r = sendmmsg(s->fd, &sh->send_msgs[done], (unsigned)(m - done), 0);
    if (r > 0) {
      done += r;
      continue;
    }
    int err = r < 0 ? errno : EIO;
    if (err == EINTR) continue;
    if ((err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) && waits < 10 && wait_writable(s->fd, 10)) {
      waits++;
      continue;
    }
    /* This datagram cannot go: say why, and go on with the rest. */
    send_errors[sh->send_index[done]] = err;
    failed++;
    done++;
  }
  napi_create_int32(env, failed, &result);
  return result;
}

static napi_value socket_close(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  socket_t *s = argc == 2 ? socket_arg(env, argv[0]) : NULL;
  if (s == NULL || s->closing) {
    napi_throw_error(env, "ERR_NATIVE_UDP", "close: not an open socket");
    return NULL;
  }
  s->closing = 1;
  napi_remove_env_cleanup_hook(env, socket_cleanup, s);
  CHECK(env, napi_create_reference(env, argv[1], 1, &s->on_closed));
  uv_poll_stop(&s->poll);
  uv_close((uv_handle_t *)&s->poll, socket_free);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"open", NULL, open_socket, NULL, NULL, NULL, napi_enumerable, NULL},
      {"address", NULL, socket_address, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, socket_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, socket_close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_value batch;
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  napi_create_int32(env, RECV_BATCH, &batch);
  napi_set_named_property(env, exports, "RECV_BATCH", batch);
  napi_create_int32(env, RECV_SLOT, &batch);
  napi_set_named_property(env, exports, "RECV_SLOT", batch);
  napi_create_int32(env, SEND_BATCH, &batch);
  napi_set_named_property(env, exports, "SEND_BATCH", batch);
  return exports;
}
