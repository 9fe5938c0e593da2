#!/usr/bin/env bash
# The end-to-end environment: etcd + a real kube-apiserver + the fake kubelet, on loopback.
#
#   hack/e2e/env.sh build        build kube-apiserver, etcd and fakekubelet into .cache/e2e/bin
#                                (skipped when present and built from the same pins and sources)
#   hack/e2e/env.sh up [DIR]     start everything with state, certs and logs in DIR (default: a new
#                                .cache/e2e/run.XXXXXX, linked as .cache/e2e/current); prints
#                                KUBECONFIG=DIR/kubeconfig when ready
#   hack/e2e/env.sh down [DIR]   stop the processes started by `up DIR` and delete etcd's data
#                                (logs are kept); default DIR is .cache/e2e/current
#   hack/e2e/env.sh logs [DIR]   print every process log of DIR
#
# Environment:
#   E2E_OWNER_PID   with `up`: tear the environment down by itself when this process exits
#                   (the Go test harness passes its pid, so a killed test leaves nothing behind)
#   E2E_NODE_NAME   name of the fake kubelet's Node (default e2e-node)
#   E2E_UP_TIMEOUT  seconds to wait for each process to become ready (default 90)
#   E2E_CACHE       where binaries and environments go (default .cache/e2e in the repository)
#
# See hack/e2e/README.md for the layout of DIR, the identities and the pod annotations.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="${E2E_CACHE:-$ROOT/.cache/e2e}"
BIN="$CACHE/bin"
SELF="$HERE/env.sh"

NODE_NAME="${E2E_NODE_NAME:-e2e-node}"
UP_TIMEOUT="${E2E_UP_TIMEOUT:-90}"

export PATH="$PATH:/usr/local/go/bin"

log() { printf '[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------
# host tools

ensure_host_tools() {
	local missing=()
	command -v curl >/dev/null || missing+=(curl)
	command -v openssl >/dev/null || missing+=(openssl)
	command -v ss >/dev/null || missing+=(iproute2)
	command -v setsid >/dev/null || missing+=(util-linux)
	command -v pkill >/dev/null || missing+=(procps)
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" = 0 ] || die "missing ${missing[*]}: install them (apt-get install -y ${missing[*]})"
	log "installing ${missing[*]} with apt-get"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; } ||
		die "apt-get install ${missing[*]} failed"
}

# ---------------------------------------------------------------------------------------------
# build

# set_ldflags: version the apiserver reports (/version), from the k8s.io/kubernetes pin in go.mod
# (clients parse gitVersion; without -X it is v0.0.0-master+$Format:%H$).
set_ldflags() {
	local v major minor
	v="$(cd "$HERE" && go list -m -f '{{.Version}}' k8s.io/kubernetes)"
	major="${v#v}" && major="${major%%.*}"
	minor="${v#v*.}" && minor="${minor%%.*}"
	LDFLAGS="-s -w -X k8s.io/component-base/version.gitVersion=$v -X k8s.io/component-base/version.gitMajor=$major"
	LDFLAGS+=" -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
}

stamp_of() { # what a binary's build depends on
	{
		go version
		echo "$LDFLAGS"
		cat "$HERE/go.mod" "$HERE/go.sum"
		[ "$1" = fakekubelet ] && cat "$HERE"/fakekubelet/*.go
		true
	} | sha256sum | cut -d' ' -f1
}

cmd_build() {
	command -v go >/dev/null || die "go is not installed (expected in /usr/local/go/bin)"
	set_ldflags
	mkdir -p "$BIN"
	local name pkg todo=() names=()
	for name in kube-apiserver etcd fakekubelet; do
		if [ -x "$BIN/$name" ] && [ "$(cat "$BIN/$name.stamp" 2>/dev/null)" = "$(stamp_of $name)" ]; then
			continue
		fi
		case $name in
		kube-apiserver) pkg=k8s.io/kubernetes/cmd/kube-apiserver ;;
		etcd) pkg=go.etcd.io/etcd/server/v3 ;;
		fakekubelet) pkg=./fakekubelet ;;
		esac
		todo+=("$pkg")
		names+=("$name")
	done
	if [ ${#todo[@]} -eq 0 ]; then
		log "binaries up to date in $BIN"
		return 0
	fi
	log "building ${names[*]} (cold: about 3 minutes on 2 cores, more on a busy machine)"
	local start=$SECONDS out
	out="$(mktemp -d "$CACHE/build.XXXXXX")"
	BUILD_OUT="$out"
	trap 'rm -rf "$BUILD_OUT"' EXIT
	# One go build for all of them so that both cores stay busy.
	(cd "$HERE" && CGO_ENABLED=0 go build -buildvcs=false -trimpath -ldflags "$LDFLAGS" -o "$out/" "${todo[@]}") ||
		{ rm -rf "$out"; die "go build failed"; }
	[ -e "$out/server" ] && mv "$out/server" "$out/etcd" # go.etcd.io/etcd/server/v3 builds as "server"
	for name in "${names[@]}"; do
		mv -f "$out/$name" "$BIN/$name"
		stamp_of "$name" >"$BIN/$name.stamp"
	done
	rm -rf "$out"
	trap - EXIT
	log "built ${names[*]} in $((SECONDS - start))s"
}

# ---------------------------------------------------------------------------------------------
# certificates

# gen_cert NAME SUBJECT [SANS] [serverAuth|clientAuth]
gen_cert() {
	local d=$1 name=$2 subj=$3 sans=$4 usage=$5
	openssl genrsa -out "$d/$name.key" 2048 2>/dev/null
	openssl req -new -key "$d/$name.key" -subj "$subj" -out "$d/$name.csr" 2>/dev/null
	{
		echo "basicConstraints=critical,CA:FALSE"
		echo "keyUsage=critical,digitalSignature,keyEncipherment"
		echo "extendedKeyUsage=$usage"
		[ -n "$sans" ] && echo "subjectAltName=$sans"
		true
	} >"$d/$name.ext"
	openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
		-days 30 -sha256 -extfile "$d/$name.ext" -out "$d/$name.crt" 2>/dev/null
	rm -f "$d/$name.csr" "$d/$name.ext"
}

gen_certs() {
	local d=$1
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.crt" -days 30 \
		-subj "/CN=proxyctl-e2e-ca" -addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
	gen_cert "$d" apiserver "/CN=kube-apiserver" \
		"IP:127.0.0.1,IP:::1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc" serverAuth
	gen_cert "$d" kubelet "/CN=system:node:$NODE_NAME/O=system:nodes" "IP:127.0.0.1,DNS:localhost,DNS:$NODE_NAME" serverAuth
	gen_cert "$d" apiserver-kubelet-client "/CN=kube-apiserver-kubelet-client/O=system:masters" "" clientAuth
	# Identities (see README.md): an admin, and a user with no permission but what tests grant.
	gen_cert "$d" admin "/CN=e2e-admin/O=system:masters" "" clientAuth
	gen_cert "$d" limited "/CN=e2e-limited/O=e2e-limited-group" "" clientAuth
	openssl genrsa -out "$d/sa.key" 2048 2>/dev/null
	openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
}

write_kubeconfig() { # FILE SERVER CERTDIR USER
	local file=$1 server=$2 c=$3 user=$4
	cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: $server
    certificate-authority: $c/ca.crt
users:
- name: $user
  user:
    client-certificate: $c/$user.crt
    client-key: $c/$user.key
contexts:
- name: e2e
  context:
    cluster: e2e
    user: $user
    namespace: default
current-context: e2e
EOF
}

# ---------------------------------------------------------------------------------------------
# processes

port_in_use() { ss -Htan "sport = :$1" 2>/dev/null | grep -q .; }

free_port() { # a port that nothing uses, outside the ephemeral range
	local p
	for _ in $(seq 1 200); do
		p=$((10000 + RANDOM % 22000))
		port_in_use "$p" || {
			echo "$p"
			return 0
		}
	done
	die "no free port found"
}

# start NAME CMD... : run in its own session, log to DIR/logs/NAME.log, pid in DIR/pids/NAME
start() {
	local name=$1
	shift
	log "starting $name"
	# In a non-interactive shell the background child is no group leader, so setsid does not
	# fork and $! is the daemon's own pid.
	setsid "$@" >"$DIR/logs/$name.log" 2>&1 </dev/null &
	echo $! >"$DIR/pids/$name"
}

alive() { # NAME
	local pid
	pid="$(cat "$DIR/pids/$1" 2>/dev/null)" || return 1
	kill -0 "$pid" 2>/dev/null
}

# wait_for NAME DESCRIPTION CHECK... : until CHECK succeeds, NAME dies, or the timeout
wait_for() {
	local name=$1 what=$2
	shift 2
	local deadline=$((SECONDS + UP_TIMEOUT))
	until "$@" >/dev/null 2>&1; do
		if ! alive "$name"; then
			show_log "$name"
			die "$name exited before $what"
		fi
		if [ $SECONDS -ge $deadline ]; then
			show_log "$name"
			die "$name: no $what after ${UP_TIMEOUT}s"
		fi
		sleep 0.2
	done
	log "$name: $what"
}

show_log() {
	local f="$DIR/logs/$1.log"
	[ -f "$f" ] || return 0
	echo "----- last 60 lines of $f -----" >&2
	tail -n 60 "$f" >&2
	echo "----- end of $f -----" >&2
}

on_up_error() {
	local rc=$?
	trap - EXIT
	if [ $rc -ne 0 ]; then
		log "up failed (exit $rc); stopping what was started. Logs: $DIR/logs"
		stop_all "$DIR" || true
	fi
	exit $rc
}

etcd_healthy() { curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" | grep -q '"health":"true"'; }
apiserver_ready() {
	curl -fsS --max-time 5 --cacert "$DIR/pki/ca.crt" --cert "$DIR/pki/admin.crt" --key "$DIR/pki/admin.key" \
		"https://127.0.0.1:$API_PORT/readyz" | grep -qx ok &&
		curl -fsS --max-time 5 --cacert "$DIR/pki/ca.crt" --cert "$DIR/pki/admin.crt" --key "$DIR/pki/admin.key" \
			"https://127.0.0.1:$API_PORT/api/v1/namespaces/default" >/dev/null
}
kubelet_ready() { [ -s "$DIR/kubelet.ready" ]; }

# prune_stale: remove directories of stopped environments (no pids/) older than a day.
prune_stale() {
	local d
	for d in "$CACHE"/run.* "$CACHE"/test.*; do
		[ -d "$d" ] && [ ! -d "$d/pids" ] && [ -n "$(find "$d" -maxdepth 0 -mmin +1440)" ] && rm -rf "$d"
	done
	return 0
}

cmd_up() {
	ensure_host_tools
	local b
	for b in kube-apiserver etcd fakekubelet; do
		[ -x "$BIN/$b" ] || die "$BIN/$b is missing: run '$SELF build' first"
	done
	mkdir -p "$CACHE"
	prune_stale
	DIR="${1:-}"
	if [ -z "$DIR" ]; then
		DIR="$(mktemp -d "$CACHE/run.XXXXXX")"
		ln -sfn "$DIR" "$CACHE/current"
	fi
	mkdir -p "$DIR/logs" "$DIR/pids"
	DIR="$(cd "$DIR" && pwd)"
	[ -z "$(ls -A "$DIR/pids")" ] || die "$DIR already has running processes: '$SELF down $DIR' first"
	trap on_up_error EXIT
	local start_s=$SECONDS

	gen_certs "$DIR/pki"

	# Ports are chosen free now; a clash with a process binding in between shows in the log.
	ETCD_PORT="$(free_port)"
	local peer_port
	peer_port="$(free_port)"
	[ "$peer_port" != "$ETCD_PORT" ] || peer_port=$((ETCD_PORT + 1))
	start etcd "$BIN/etcd" --name e2e --data-dir "$DIR/etcd-data" \
		--listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
		--initial-cluster "e2e=http://127.0.0.1:$peer_port" --unsafe-no-fsync --log-level warn
	wait_for etcd "healthy on 127.0.0.1:$ETCD_PORT" etcd_healthy

	API_PORT="$(free_port)"
	local p="$DIR/pki"
	start kube-apiserver "$BIN/kube-apiserver" \
		--etcd-servers "http://127.0.0.1:$ETCD_PORT" \
		--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" \
		--tls-cert-file "$p/apiserver.crt" --tls-private-key-file "$p/apiserver.key" \
		--client-ca-file "$p/ca.crt" \
		--service-account-issuer https://kubernetes.default.svc \
		--service-account-key-file "$p/sa.pub" --service-account-signing-key-file "$p/sa.key" \
		--authorization-mode RBAC \
		--disable-admission-plugins ServiceAccount \
		--endpoint-reconciler-type none \
		--service-cluster-ip-range 10.96.0.0/16 \
		--kubelet-client-certificate "$p/apiserver-kubelet-client.crt" \
		--kubelet-client-key "$p/apiserver-kubelet-client.key" \
		--kubelet-certificate-authority "$p/ca.crt" \
		--kubelet-preferred-address-types InternalIP \
		--allow-privileged \
		--profiling=false \
		--v=2
	wait_for kube-apiserver "ready on https://127.0.0.1:$API_PORT" apiserver_ready

	write_kubeconfig "$DIR/kubeconfig" "https://127.0.0.1:$API_PORT" "$p" admin
	write_kubeconfig "$DIR/kubeconfig-limited" "https://127.0.0.1:$API_PORT" "$p" limited

	start fakekubelet "$BIN/fakekubelet" -kubeconfig "$DIR/kubeconfig" -node-name "$NODE_NAME" \
		-listen 127.0.0.1:0 -tls-cert-file "$p/kubelet.crt" -tls-private-key-file "$p/kubelet.key" \
		-client-ca-file "$p/ca.crt" -ready-file "$DIR/kubelet.ready"
	wait_for fakekubelet "node $NODE_NAME registered" kubelet_ready
	log "fakekubelet: kubelet API on https://$(cat "$DIR/kubelet.ready")"

	if [ -n "${E2E_OWNER_PID:-}" ]; then
		# Tear down by itself when the owner (the test binary) goes away, however it ends.
		# shellcheck disable=SC2016 # expanded by the inner bash
		setsid bash -c 'while kill -0 "$1" 2>/dev/null && [ -d "$2/pids" ]; do sleep 1; done; exec "$3" down "$2"' \
			watchdog "$E2E_OWNER_PID" "$DIR" "$SELF" >"$DIR/logs/watchdog.log" 2>&1 </dev/null &
		echo $! >"$DIR/watchdog.pid"
	fi

	cat >"$DIR/env" <<EOF
E2E_DIR=$DIR
KUBECONFIG=$DIR/kubeconfig
E2E_KUBECONFIG_LIMITED=$DIR/kubeconfig-limited
E2E_APISERVER=https://127.0.0.1:$API_PORT
E2E_ETCD=http://127.0.0.1:$ETCD_PORT
E2E_NODE_NAME=$NODE_NAME
E2E_KUBELET=$(cat "$DIR/kubelet.ready")
EOF
	trap - EXIT
	log "environment up in $((SECONDS - start_s))s: $DIR (stop it with '$SELF down $DIR')"
	echo "KUBECONFIG=$DIR/kubeconfig"
}

# stop_all DIR: stop every process listed in DIR/pids, clients before etcd (the apiserver's
# shutdown hooks write to etcd and wait 10s for it when it is gone first). A pid is signalled
# only while it still runs one of our binaries, so a recycled pid is never touched.
stop_all() {
	local d=$1
	[ -d "$d/pids" ] || return 0
	stop_procs "$d" 10 fakekubelet kube-apiserver
	stop_procs "$d" 2 etcd # its data is thrown away: no need to wait for a clean stop
	rm -rf "$d/pids" "$d/etcd-data" "$d/kubelet.ready"
}

# stop_procs DIR GRACE NAME...: TERM, wait up to GRACE seconds, then KILL.
stop_procs() {
	local d=$1 grace=$2 f pid name pids=()
	shift 2
	for name in "$@"; do
		f="$d/pids/$name"
		[ -f "$f" ] || continue
		pid="$(cat "$f")"
		if [ -n "$pid" ] && grep -qa "$BIN/$name" "/proc/$pid/cmdline" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
			pids+=("$pid")
		fi
	done
	local deadline=$((SECONDS + grace))
	for pid in "${pids[@]}"; do
		while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	done
}

cmd_down() {
	local d="${1:-$CACHE/current}"
	[ -e "$d" ] || die "no environment at $d"
	d="$(cd "$d" && pwd -P)"
	stop_all "$d"
	# Stop the watchdog unless it is the one running us.
	if [ -f "$d/watchdog.pid" ]; then
		local w
		w="$(cat "$d/watchdog.pid")"
		[ "$w" = "$$" ] || [ "$w" = "$PPID" ] || kill "$w" 2>/dev/null || true
		rm -f "$d/watchdog.pid"
	fi
	[ "$(readlink -f "$CACHE/current" 2>/dev/null)" = "$d" ] && rm -f "$CACHE/current"
	log "environment in $d is down (logs kept in $d/logs)"
}

cmd_logs() {
	DIR="${1:-$CACHE/current}"
	local f
	for f in "$DIR"/logs/*.log; do
		show_log "$(basename "$f" .log)"
	done
}

# A signal ends the script through its EXIT trap (a failed `up` stops what it started).
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

case "${1:-}" in
build) cmd_build ;;
up) cmd_up "${2:-}" ;;
down) cmd_down "${2:-}" ;;
logs) cmd_logs "${2:-}" ;;
*)
	sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
