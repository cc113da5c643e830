/* netdelay: the network round trip of podmux-sim's remote-cluster model (`--rtt-ms MS`).
 *
 * A TCP relay on the sim's own loop: clients connect to it, it connects to the sim's real
 * listener on loopback and copies bytes both ways, each chunk held for half the round trip
 * (the other half the other way), as a netem delay on a veth would (this kernel has no netem).
 * It sees only TCP bytes, so TLS, HTTP and WebSocket pass untouched; FIN is forwarded after the
 * bytes before it. Each direction queues at most NETDELAY_QUEUE_MAX bytes: above that it stops
 * reading its source (the kernel's windows then push back on the sender) until the queue is
 * down to a quarter. An error or reset on either side closes both. */
#include <stdlib.h>
#include <string.h>

#include "sim/netdelay.h"

#define NETDELAY_QUEUE_MAX (1024 * 1024)
#define NETDELAY_READ 65536

typedef struct nd_chunk {
    struct nd_chunk *next;
    uint64_t due;
    size_t len;
    int eof;
    union {
        uv_write_t w;
        uv_shutdown_t s;
    } req;
    struct nd_dir *dir;
    char bytes[];
} nd_chunk_t;

typedef struct nd_conn nd_conn_t;

typedef struct nd_dir {
    nd_conn_t *c;
    uv_tcp_t *from, *to;
    nd_chunk_t *head, *tail;
    size_t queued;
    uint64_t delay;
    uv_timer_t timer;
    unsigned reading : 1, eof_in : 1, eof_out : 1;
} nd_dir_t;

struct nd_conn {
    netdelay_t *nd;
    uv_tcp_t client, upstream;
    uv_connect_t creq;
    nd_dir_t up, down; /* up: client -> sim, down: sim -> client */
    int handles, closing, writes;
    nd_conn_t *prev, *next;
};

static void conn_free_if_done(nd_conn_t *c)
{
    if (c->handles > 0 || c->writes > 0) return;
    if (c->prev)
        c->prev->next = c->next;
    else
        c->nd->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    nd_dir_t *ds[2] = {&c->up, &c->down};
    for (int i = 0; i < 2; i++)
        while (ds[i]->head) {
            nd_chunk_t *k = ds[i]->head;
            ds[i]->head = k->next;
            free(k);
        }
    free(c);
}

static void handle_closed(uv_handle_t *h)
{
    /* The sockets' data is the connection, the timers' their direction. */
    nd_conn_t *c = h->type == UV_TIMER ? ((nd_dir_t *)h->data)->c : h->data;
    c->handles--;
    conn_free_if_done(c);
}

static void conn_close(nd_conn_t *c)
{
    if (c->closing) return;
    c->closing = 1;
    uv_handle_t *hs[] = {(uv_handle_t *)&c->client, (uv_handle_t *)&c->upstream,
                         (uv_handle_t *)&c->up.timer, (uv_handle_t *)&c->down.timer};
    for (int i = 0; i < 4; i++)
        if (!uv_is_closing(hs[i])) uv_close(hs[i], handle_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    (void)suggested;
    /* The chunk header goes in front: the bytes are read straight into the chunk. */
    nd_chunk_t *k = malloc(sizeof *k + NETDELAY_READ);
    *b = k ? uv_buf_init(k->bytes, NETDELAY_READ) : uv_buf_init(NULL, 0);
}

static void dir_flush(uv_timer_t *t);

static void dir_arm(nd_dir_t *d)
{
    if (!d->head || d->c->closing || uv_is_active((uv_handle_t *)&d->timer)) return;
    uint64_t now = uv_now(d->timer.loop);
    uv_timer_start(&d->timer, dir_flush, d->head->due > now ? d->head->due - now : 0, 0);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);

static void dir_read(nd_dir_t *d, int on)
{
    if (d->c->closing || d->eof_in || (int)d->reading == on) return;
    if (on ? uv_read_start((uv_stream_t *)d->from, on_alloc, on_read) < 0
           : uv_read_stop((uv_stream_t *)d->from) < 0) {
        conn_close(d->c);
        return;
    }
    d->reading = (unsigned)on;
}

static void dir_push(nd_dir_t *d, nd_chunk_t *k)
{
    k->next = NULL;
    k->dir = d;
    k->due = uv_now(d->timer.loop) + d->delay;
    if (d->tail)
        d->tail->next = k;
    else
        d->head = k;
    d->tail = k;
    d->queued += k->len;
    if (d->queued > NETDELAY_QUEUE_MAX) dir_read(d, 0);
    dir_arm(d);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    nd_conn_t *c = s->data;
    nd_dir_t *d = s == (uv_stream_t *)&c->client ? &c->up : &c->down;
    nd_chunk_t *k = b->base ? (nd_chunk_t *)(b->base - offsetof(nd_chunk_t, bytes)) : NULL;
    if (n == 0 || c->closing) {
        free(k);
        return;
    }
    if (n < 0 && n != UV_EOF) { /* a reset or error: both sides go */
        free(k);
        conn_close(c);
        return;
    }
    if (n == UV_EOF) {
        dir_read(d, 0);
        d->eof_in = 1;
        if (!k) k = malloc(sizeof *k);
        if (!k) {
            conn_close(c);
            return;
        }
        k->len = 0;
        k->eof = 1;
    } else if (!k) {
        conn_close(c);
        return;
    } else {
        k->len = (size_t)n;
        k->eof = 0;
    }
    dir_push(d, k);
}

static void after_out(nd_chunk_t *k, int status)
{
    nd_dir_t *d = k->dir;
    nd_conn_t *c = d->c;
    c->writes--;
    d->queued -= k->len;
    free(k);
    if (status < 0 && !c->closing) conn_close(c);
    if (c->closing) {
        conn_free_if_done(c);
        return;
    }
    if (d->queued <= NETDELAY_QUEUE_MAX / 4) dir_read(d, 1);
    if (c->up.eof_out && c->down.eof_out) conn_close(c); /* both sides said FIN */
}

static void write_done(uv_write_t *w, int status)
{
    after_out(w->data, status);
}

static void shutdown_done(uv_shutdown_t *s, int status)
{
    nd_chunk_t *k = s->data;
    k->dir->eof_out = 1;
    after_out(k, status);
}

static void dir_flush(uv_timer_t *t)
{
    nd_dir_t *d = t->data;
    nd_conn_t *c = d->c;
    uint64_t now = uv_now(t->loop);
    while (!c->closing && d->head && d->head->due <= now) {
        nd_chunk_t *k = d->head;
        d->head = k->next;
        if (!d->head) d->tail = NULL;
        int r;
        if (k->eof) {
            k->req.s.data = k;
            r = uv_shutdown(&k->req.s, (uv_stream_t *)d->to, shutdown_done);
        } else {
            k->req.w.data = k;
            uv_buf_t b = uv_buf_init(k->bytes, (unsigned)k->len);
            r = uv_write(&k->req.w, (uv_stream_t *)d->to, &b, 1, write_done);
        }
        if (r < 0) {
            d->queued -= k->len;
            free(k);
            conn_close(c);
            return;
        }
        c->writes++;
    }
    dir_arm(d);
}

static void on_upstream(uv_connect_t *req, int status)
{
    nd_conn_t *c = req->data;
    if (c->closing) return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    dir_read(&c->up, 1);
    dir_read(&c->down, 1);
}

static void dir_init(nd_conn_t *c, nd_dir_t *d, uv_tcp_t *from, uv_tcp_t *to, uint64_t delay)
{
    d->c = c;
    d->from = from;
    d->to = to;
    d->delay = delay;
    uv_timer_init(c->nd->loop, &d->timer);
    d->timer.data = d;
    c->handles++;
}

static void on_connection(uv_stream_t *l, int status)
{
    netdelay_t *nd = l->data;
    if (status < 0) return;
    nd_conn_t *c = calloc(1, sizeof *c);
    if (!c) return; /* no memory: the connection waits in the backlog */
    c->nd = nd;
    c->next = nd->conns;
    if (c->next) c->next->prev = c;
    nd->conns = c;
    uv_tcp_init(nd->loop, &c->client);
    uv_tcp_init(nd->loop, &c->upstream);
    c->client.data = c->upstream.data = c;
    c->handles = 2;
    dir_init(c, &c->up, &c->client, &c->upstream, nd->rtt_ms / 2);
    dir_init(c, &c->down, &c->upstream, &c->client, nd->rtt_ms - nd->rtt_ms / 2);
    if (uv_accept(l, (uv_stream_t *)&c->client) < 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->client, 1);
    uv_tcp_nodelay(&c->upstream, 1);
    c->creq.data = c;
    if (uv_tcp_connect(&c->creq, &c->upstream, (const struct sockaddr *)&nd->target, on_upstream) <
        0)
        conn_close(c);
}

int netdelay_start(netdelay_t *nd, uv_loop_t *loop, const char *host, int port, int target_port,
                   uint64_t rtt_ms, int *bound_port)
{
    memset(nd, 0, sizeof *nd);
    nd->loop = loop;
    nd->rtt_ms = rtt_ms;
    struct sockaddr_storage sa;
    int r = uv_ip4_addr(host, port, (struct sockaddr_in *)&sa);
    if (r < 0) r = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&sa);
    if (r < 0) return r;
    if (sa.ss_family == AF_INET6)
        r = uv_ip6_addr("::1", target_port, (struct sockaddr_in6 *)&nd->target);
    else
        r = uv_ip4_addr("127.0.0.1", target_port, (struct sockaddr_in *)&nd->target);
    if (r < 0) return r;
    uv_tcp_init(loop, &nd->listener);
    nd->listener.data = nd;
    r = uv_tcp_bind(&nd->listener, (const struct sockaddr *)&sa, 0);
    if (r == 0) r = uv_listen((uv_stream_t *)&nd->listener, 4096, on_connection);
    if (r < 0) {
        uv_close((uv_handle_t *)&nd->listener, NULL);
        return r;
    }
    struct sockaddr_storage got;
    int len = sizeof got;
    uv_tcp_getsockname(&nd->listener, (struct sockaddr *)&got, &len);
    nd->started = 1;
    *bound_port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                                  : ((struct sockaddr_in *)&got)->sin_port);
    return 0;
}

void netdelay_stop(netdelay_t *nd)
{
    if (!nd->started) return;
    nd->started = 0;
    if (!uv_is_closing((uv_handle_t *)&nd->listener)) uv_close((uv_handle_t *)&nd->listener, NULL);
    for (nd_conn_t *c = nd->conns; c; c = c->next)
        conn_close(c); /* frees nothing synchronously: the list stays valid */
}
