# Keeps mvmm.memfill_mib MiB (default 64) filled with a known pattern and
# verifies it every 5 s while the host balloons, until a line is typed on
# the console; then verifies once more. rc 0 means no byte was lost.
mib=$(cmdline_param memfill_mib 64)
rm -f /tmp/memfill.ready
memfill -i 5 -r /tmp/memfill.ready "$mib" &
pid=$!
wait_for_file /tmp/memfill.ready 600 || { echo "memfill did not start"; exit 2; }
echo "MVMM-MEMFILL-READY"
read -r _line
kill -TERM "$pid"
wait "$pid"
