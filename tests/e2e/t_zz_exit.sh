. "$(dirname "$0")/lib.sh"
mvmm_start --kernel /nonexistent --mem 128
mvmm_wait_for 'never' 10
