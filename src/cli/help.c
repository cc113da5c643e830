/* help: the text of `podmux help [COMMAND]` and `podmux COMMAND --help`. */
#include "cli.h"

static const char GENERAL[] =
    "podmux runs commands in Kubernetes pods over WebSocket, one pod or many at once.\n"
    "\n"
    "Usage:\n"
    "  podmux exec [flags] TARGET... -- COMMAND [ARG...]\n"
    "  podmux attach [flags] TARGET\n"
    "  podmux version\n"
    "  podmux help [exec|attach]\n"
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

const char *cli_help_text(int cmd)
{
    static char text[8192];
    const char *body = cmd == CMD_EXEC ? EXEC : cmd == CMD_ATTACH ? ATTACH : GENERAL;
    snprintf(text, sizeof text, "%s%s", body, cmd == CMD_EXEC || cmd == CMD_ATTACH ? COMMON : "");
    return text;
}
