/* help: the text of `podmux help [COMMAND]` and `podmux COMMAND --help`. */
#include <string.h>

#include "cli.h"

static const char GENERAL[] =
    "podmux runs commands in Kubernetes pods over WebSocket, one pod or many at once.\n"
    "\n"
    "Usage:\n"
    "  podmux exec [flags] TARGET... -- COMMAND [ARG...]\n"
    "  podmux attach [flags] TARGET\n"
    "  podmux shell [flags] TARGET... [-- COMMAND [ARG...]]\n"
    "  podmux cp [flags] SRC... TARGET:PATH | TARGET:PATH DEST\n"
    "  podmux version (or --version)\n"
    "  podmux help [exec|attach|shell|cp]\n"
    "\n"
    "TARGET is POD, pod/NAME, deploy/NAME, sts/NAME, ds/NAME, rs/NAME or job/NAME\n"
    "(long forms deployment/, statefulset/, daemonset/, replicaset/ too).\n"
    "Also installed as kubectl-podmux: `kubectl podmux exec ...`.\n"
    "\n"
    "Exit status: the remote command's (like ssh); 255 when podmux failed (one line on\n"
    "stderr); with several pods 0 all ok, 1 some exited non-zero, 255 some could not run;\n"
    "128+N when signal N ended podmux.\n";

static const char COMMON[] =
    "\n"
    "Connection flags (as kubectl):\n"
    "      --kubeconfig PATH         kubeconfig file(s)\n"
    "      --context NAME            kubeconfig context\n"
    "      --cluster NAME            kubeconfig cluster\n"
    "      --user NAME               kubeconfig user\n"
    "  -s, --server URL              API server address\n"
    "      --token TOKEN             bearer token\n"
    "      --certificate-authority PATH\n"
    "      --insecure-skip-tls-verify  do not check the server's certificate (warned)\n"
    "      --as USER                 impersonate USER (Impersonate-User on every request)\n"
    "      --as-group GROUP          impersonate GROUP too; repeat for more\n"
    "      --as-uid UID              impersonate UID too\n"
    "      --request-timeout DURATION  REST and upgrade timeout (500ms, 5s, 1m; bare = s)\n"
    "  -n, --namespace NS            namespace\n"
    "  -v, --verbose                 log states, protocol and timings to stderr\n"
    "  -h, --help                    this help\n"
    "      --keepalive DURATION      ping period (default 5s, 0 off)\n"
    "      --eof-grace DURATION      a server without v5.channel.k8s.io cannot be told that\n"
    "                                stdin ended: end once the output was quiet this long\n"
    "                                after it (default 2s, 0 never; exit status unknown)\n";

static const char EXEC[] =
    "Run a command in one or many pods.\n"
    "\n"
    "Usage:\n"
    "  podmux exec [flags] TARGET... -- COMMAND [ARG...]\n"
    "  podmux exec [flags] -l SELECTOR [-A] -- COMMAND [ARG...]\n"
    "\n"
    "Examples:\n"
    "  podmux exec web-1 -- ls /\n"
    "  podmux exec -it deploy/web -- sh\n"
    "  podmux exec -l app=web -P 16 -- sh -c 'echo $HOSTNAME'\n"
    "  podmux exec --all-pods sts/db -o json -- uptime\n"
    "\n"
    "Flags:\n"
    "  -c, --container NAME          container (default: kubectl's choice, noted on stderr)\n"
    "  -i, --stdin                   pass stdin (broadcast to every pod with several)\n"
    "  -t, --tty                     allocate a terminal (with -i and a terminal on stdin)\n"
    "  -q, --quiet                   no notes on stderr\n"
    "      --escape CHAR|none        escape character with -t (default ~): ~. ~? ~~\n"
    "      --pod-running-timeout DURATION  wait for a workload's pod (default 1m)\n"
    "      --timeout DURATION        per-session deadline\n"
    "      --kill-on-close           end the remote command when podmux closes the session\n"
    "                                (see below); not with -i or -t; needs sh in the container\n"
    "\n"
    "Several pods:\n"
    "  -l, --selector SELECTOR       label selector\n"
    "      --field-selector SELECTOR field selector\n"
    "  -A, --all-namespaces          with selectors: every namespace\n"
    "      --all-pods                a workload target means all its pods\n"
    "      --all-containers          every regular container of each pod\n"
    "  -P, --parallel N              sessions at once (default 64, 0 unlimited)\n"
    "      --qps RATE, --burst N     session start rate limit\n"
    "      --fail-fast               stop at the first failure or non-zero exit\n"
    "      --retries N               retry errors before the command started (never after)\n"
    "  -o, --output FORMAT           prefix (default for several pods), group, json, raw\n"
    "\n"
    "With -i -t and several pods (or a selector), exec opens `podmux shell` (see\n"
    "`podmux help shell`).\n"
    "Pods that are not Running are skipped and listed in the summary on stderr.\n"
    "\n"
    "Ending early (--timeout, Ctrl-C or a signal, --fail-fast) closes the connection. The\n"
    "kubelet does not end the remote command then: it keeps running, its stdin closed. With -t\n"
    "podmux first types the interrupt character (as Ctrl-C would), which ends the foreground\n"
    "job. Without a tty, --kill-on-close runs the command under `sh -c` with stdin from\n"
    "/dev/null, in its own process group (when the container has setsid); when the stream\n"
    "ends, the group gets SIGTERM, and SIGKILL 2 s later.\n"
    "      --group-max SIZE          -o group: output kept per pod (default 64Mi, 0 no cap)\n"
    "\n"
    "group prints each pod's section when it ends: a header line (=== POD (exit N, T) ===),\n"
    "then its stdout, then its stderr; no other pod's line comes between. When stdout and\n"
    "stderr are different files, each gets the header. Past 1 MiB per stream a section waits\n"
    "in an unlinked temporary file in $TMPDIR (default /tmp); past --group-max the rest of\n"
    "the pod's output is dropped and one line on stderr says so.\n";

static const char ATTACH[] =
    "Attach to the main process of a running container.\n"
    "\n"
    "Usage:\n"
    "  podmux attach [flags] TARGET\n"
    "\n"
    "Flags:\n"
    "  -c, --container NAME          container\n"
    "  -i, --stdin                   pass stdin\n"
    "  -t, --tty                     stdin is a terminal (raw mode, escapes ~. ~? ~~)\n"
    "  -q, --quiet                   no notes on stderr\n"
    "      --escape CHAR|none        escape character (default ~)\n"
    "      --pod-running-timeout DURATION  wait for a workload's pod (default 1m)\n";

static const char SHELL[] =
    "One interactive session per pod, all in one terminal: type once, to every pod or one.\n"
    "\n"
    "Usage:\n"
    "  podmux shell [flags] TARGET... [-- COMMAND [ARG...]]   (default COMMAND: sh)\n"
    "  podmux shell [flags] -l SELECTOR [-A] [-- COMMAND [ARG...]]\n"
    "  podmux exec -it [flags] TARGET... -- COMMAND     (several pods or a selector: the same)\n"
    "  podmux attach -it [flags] TARGET...              (attach to each pod's main process)\n"
    "\n"
    "Examples:\n"
    "  podmux shell deploy/web --all-pods\n"
    "  podmux shell -l app=web --layout lines -- bash\n"
    "\n"
    "Flags:\n"
    "      --layout panes|lines      panes: the screen tiled, one pane and tty per pod (the\n"
    "                                default on a terminal big enough); lines: no tty, each\n"
    "                                output line prefixed with its pod (the default otherwise)\n"
    "      --prefix KEY              the command key: C-b (default), ^a, Ctrl-]...; also\n"
    "                                $PODMUX_PREFIX; inside tmux or screen the default is C-]\n"
    "  -c, --container NAME          container (default: kubectl's choice)\n"
    "  -l, --selector SELECTOR       label selector (also --field-selector, -A, --all-pods,\n"
    "                                --all-containers, as for exec)\n"
    "      --timeout DURATION        per-session deadline\n"
    "  -q, --quiet                   no notes on stderr\n"
    "\n"
    "Keys (after the prefix, Ctrl-b unless changed; the status line shows it):\n"
    "  panes: Ctrl-b then an arrow, a digit N or o: focus a pane; b broadcast on/off;\n"
    "         z zoom; d detach; ? help; Ctrl-b a literal Ctrl-b.\n"
    "  lines: at the start of a line, Ctrl-b N, b, d or ?, then Enter.\n"
    "Focusing a pod turns broadcast off, in both layouts; b turns it back on. Input goes to every\n"
    "pod at the start. Detaching closes every session; it is not a failure.\n"
    "Exit status: as for exec with several pods.\n";

const char *cli_prog_name(const char *argv0)
{
    const char *base = argv0 ? strrchr(argv0, '/') : NULL;
    base = base ? base + 1 : argv0 ? argv0 : "";
    return !strncmp(base, "kubectl-podmux", 14) ? "kubectl podmux" : "podmux";
}

/* Copies in to out, writing prog for each "podmux " that starts a word (not "kubectl podmux"). */
static void with_prog(const char *in, const char *prog, char *out, size_t len)
{
    size_t n = 0, plen = strlen(prog);
    for (const char *p = in; *p && n + 1 < len;) {
        int word = p == in || p[-1] == ' ' || p[-1] == '\n' || p[-1] == '\'';
        int after_kubectl = p - in >= 8 && !strncmp(p - 8, "kubectl ", 8);
        if (word && !after_kubectl && !strncmp(p, "podmux ", 7) && n + plen + 1 < len) {
            memcpy(out + n, prog, plen);
            n += plen;
            p += 6;
            continue;
        }
        out[n++] = *p++;
    }
    out[n] = '\0';
}

static const char CP[] =
    "Copy files to and from one pod or many, as kubectl cp does (tar in the pod).\n"
    "\n"
    "Usage:\n"
    "  podmux cp [flags] SRC... [NAMESPACE/]POD:PATH    to a pod (TARGET:PATH: "
    "deploy/web:PATH...)\n"
    "  podmux cp [flags] [NAMESPACE/]POD:PATH DEST      from a pod\n"
    "  podmux cp -l SELECTOR [-A] SRC... :PATH          to every matching pod\n"
    "  podmux cp -l SELECTOR [-A] :PATH DEST            from every matching pod to DEST/POD/\n"
    "                                                   (DEST/NAMESPACE/POD/ with -A)\n"
    "\n"
    "Examples:\n"
    "  podmux cp ./conf web-1:/etc/app/\n"
    "  podmux cp -l app=web ./conf :/etc/app/\n"
    "  podmux cp -l app=web :/var/log/app ./logs/\n"
    "\n"
    "Flags:\n"
    "  -c, --container NAME          container (default: kubectl's choice)\n"
    "  -q, --quiet                   no summary when all went well, no progress\n"
    "  -l, --selector, --field-selector, -A, --all-pods, -P, --qps, --burst: as for exec\n"
    "      --timeout DURATION        per-pod deadline\n"
    "      --retries N               retry errors before the command started\n"
    "  -o json                       one JSON result per pod on stdout\n"
    "      --max-bytes SIZE          per pod, what may come back (default 1Gi)\n"
    "      --max-entries N           per pod, tar entries that may come back (default 100000)\n"
    "      --max-lag SIZE            to many pods: how far the fastest may run ahead of the\n"
    "                                slowest (default 8Mi); past it the slowest sets the pace\n"
    "\n"
    "To pods the sources are read once into one tar (an unlinked file in $TMPDIR) that every\n"
    "pod's `tar xmf - -C DIR` reads: modes kept, mtimes set by the pod's tar, as kubectl.\n"
    "When PATH has no trailing '/', each pod is asked `test -d PATH` first, as kubectl does.\n"
    "From pods, `tar cf - PATH` is untrusted: absolute names, \"..\", links leading outside,\n"
    "devices and fifos are refused (the pod fails, the rest is kept), setuid/setgid dropped.\n"
    "Exit status and summary as for exec over several pods.\n";

const char *cli_help_text(int cmd, const char *prog)
{
    static char raw[16384], text[20480];
    const char *body = cmd == CMD_EXEC     ? EXEC
                       : cmd == CMD_ATTACH ? ATTACH
                       : cmd == CMD_SHELL  ? SHELL
                       : cmd == CMD_CP     ? CP
                                           : GENERAL;
    snprintf(raw, sizeof raw, "%s%s", body, cmd != CMD_NONE && cmd != CMD_VERSION ? COMMON : "");
    with_prog(raw, prog ? prog : "podmux", text, sizeof text);
    return text;
}
