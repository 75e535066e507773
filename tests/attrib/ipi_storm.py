#!/usr/bin/env python3
"""Cross-CPU wake-ups for as long as it runs: two processes, each pinned to its
own CPU, pass a byte back and forth through pipes. Each pass wakes a task on
the other CPU, which costs that CPU a reschedule interrupt; if a vCPU is
running the guest there, the interrupt arrives during guest mode. Prints the
number of round trips when stopped (SIGTERM)."""
import os
import signal
import sys


def main():
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        print("ipi_storm: needs two CPUs", file=sys.stderr)
        return 2
    a_r, a_w = os.pipe()
    b_r, b_w = os.pipe()
    child = os.fork()
    if child == 0:
        os.sched_setaffinity(0, {cpus[1]})
        while True:
            if not os.read(a_r, 1):
                os._exit(0)
            os.write(b_w, b"x")
    os.sched_setaffinity(0, {cpus[0]})
    trips = 0
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while not stop:
        os.write(a_w, b"x")
        os.read(b_r, 1)
        trips += 1
    os.close(a_w)
    os.waitpid(child, 0)
    print(f"ipi_storm: {trips} round trips")
    return 0


if __name__ == "__main__":
    sys.exit(main())
