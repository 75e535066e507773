# Console input test: reads one line typed on the console and echoes it back.
echo "MVMM-ECHO-READY"
read -r line || exit 1
echo "ECHO:$line"
