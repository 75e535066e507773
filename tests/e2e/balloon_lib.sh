# Helpers for balloon scenarios: the REST API over mvmm's Unix socket.
# Source after lib.sh. API_SOCK is where mvmm listens.

API_SOCK=$E2E_WORK/api.sock

# api METHOD PATH [BODY]: prints the body, sets API_CODE to the HTTP status.
api() {
	local out
	out=$(curl -s --max-time 20 --unix-socket "$API_SOCK" -X "$1" \
		-H 'Content-Type: application/json' ${3:+--data "$3"} \
		-w '\n%{http_code}' "http://localhost$2") || e2e_fail "curl $1 $2 failed"
	API_CODE=${out##*$'\n'}
	API_BODY=${out%$'\n'*}
}

# api_ok METHOD PATH [BODY]: like api, failing unless the status is 2xx.
api_ok() {
	api "$@"
	case $API_CODE in
	2??) ;;
	*) e2e_fail "$1 $2 answered $API_CODE: $API_BODY" ;;
	esac
}

# json_num FIELD: the number FIELD in API_BODY.
json_num() {
	printf '%s' "$API_BODY" | grep -o "\"$1\": *[0-9]*" | head -1 | grep -o '[0-9]*$'
}

# balloon_wait_actual MIB TIMEOUT_S: waits until GET /balloon's actual_mib is
# MIB; prints the seconds it took.
balloon_wait_actual() {
	local want=$1 to=$(($2 * ${E2E_SLOW:-1})) start now actual
	start=$(e2e_now_ms)
	while :; do
		api_ok GET /balloon
		actual=$(json_num actual_mib)
		[ "$actual" = "$want" ] && break
		now=$(e2e_now_ms)
		if [ $((now - start)) -ge $((to * 1000)) ]; then
			# A stall: diagnosed (vCPUs, UART, virtqueues) on the way out.
			echo "balloon actual stayed at ${actual} MiB, target ${want} MiB" >"$E2E_WORK/.stuck"
			e2e_fail "balloon actual stayed at ${actual} MiB, target ${want} MiB"
		fi
		sleep 0.2
	done
	echo $(( ($(e2e_now_ms) - start) ))
}

# rss_mib: mvmm's resident memory in MiB.
rss_mib() {
	echo $(( $(mvmm_status_kib VmRSS) / 1024 ))
}

# wait_api_sock: the socket appears once mvmm has started its API.
wait_api_sock() {
	local n=200
	while [ ! -S "$API_SOCK" ]; do
		n=$((n - 1))
		[ $n -gt 0 ] || e2e_fail "no API socket at $API_SOCK"
		sleep 0.1
	done
}
