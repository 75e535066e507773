# Powers off from inside a scenario: no MVMM-SCENARIO-END line follows.
echo "powering off"
poweroff -f
