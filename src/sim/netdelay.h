/* netdelay: a delaying TCP relay in front of podmux-sim's listener, the network round trip of
 * its remote-cluster model (`--rtt-ms`; see netdelay.c). */
#ifndef PMX_SIM_NETDELAY_H
#define PMX_SIM_NETDELAY_H

#include <stdint.h>
#include <uv.h>

typedef struct netdelay {
    uv_loop_t *loop;
    uv_tcp_t listener;
    struct sockaddr_storage target; /* the sim's own listener on loopback */
    uint64_t rtt_ms;
    struct nd_conn *conns; /* every relayed connection, so netdelay_stop reaches them */
    int started;
} netdelay_t;

/* Listens on host:port (0: any free port, *bound_port says which) and relays each connection to
 * target_port on loopback with rtt_ms/2 of delay each way. 0 or a negative uv error. */
int netdelay_start(netdelay_t *nd, uv_loop_t *loop, const char *host, int port, int target_port,
                   uint64_t rtt_ms, int *bound_port);
/* Closes the listener and every relayed connection (their memory goes once the loop has run
 * their close callbacks). */
void netdelay_stop(netdelay_t *nd);

#endif
