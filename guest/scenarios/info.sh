# Reports what the guest sees of its CPUs and memory.
echo "cpus=$(grep -c '^processor' /proc/cpuinfo)"
echo "memtotal_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
echo "MVMM-INFO-OK"
