/* help: the text of `podmux help [COMMAND]` and `podmux COMMAND --help`. */
#include "cli.h"

static const char GENERAL[] =
    "podmux runs commands in Kubernetes pods over WebSocket, one pod or many at once.\n"
    "\n"
    "Usage:\n"
    "  podmux exec [flags] TARGET... -- COMMAND [ARG...]\n"
    "  podmux attach [flags] TARGET\n"
    "  podmux cp [flags] SRC... TARGET:PATH | TARGET:PATH DEST\n"
    "  podmux version\n"
    "  podmux help [exec|attach|cp]\n"
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
    "      --request-timeout DURATION  REST and upgrade timeout (500ms, 5s, 1m; bare = s)\n"
    "  -n, --namespace NS            namespace\n"
    "  -v, --verbose                 log states, protocol and timings to stderr\n"
    "      --keepalive DURATION      ping period (default 5s, 0 off)\n";

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
    "Pods that are not Running are skipped and listed in the summary on stderr.\n"
    "group prints each pod's whole output when it ends; past 1 MiB per stream it waits in an\n"
    "unlinked temporary file in $TMPDIR (default /tmp).\n";

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

const char *cli_help_text(int cmd)
{
    static char text[8192];
    const char *body = cmd == CMD_EXEC     ? EXEC
                       : cmd == CMD_ATTACH ? ATTACH
                       : cmd == CMD_CP     ? CP
                                           : GENERAL;
    snprintf(text, sizeof text, "%s%s", body,
             cmd == CMD_EXEC || cmd == CMD_ATTACH || cmd == CMD_CP ? COMMON : "");
    return text;
}
