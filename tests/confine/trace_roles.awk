# Reads `strace -f -qq` output of mvmm and prints, per thread role, the
# syscalls made after the point where that role's seccomp filter is to be
# installed (the "armed" point), with the ioctl requests, madvise advice,
# mmap/mprotect protections, open flags and io_uring_register opcodes seen.
#   main: armed at its first epoll_wait after it named a vCPU thread
#   vcpu: a thread main names "vcpuN"; armed once it unblocks SIGUSR1
#   api:  the thread that names itself MHD-*; armed after its first accept4
# Everything before the armed point is setup and not in the lists.
function note(ro, what) { seen[ro SUBSEP what] = 1 }
{
	if ($0 !~ /^[0-9]+ +[a-z_0-9]+\(/)
		next
	t = $1
	name = $2
	sub(/\(.*/, "", name)
	if (!(t in role) && !have_main[FILENAME]) {
		have_main[FILENAME] = 1
		role[t] = "main"
	}
	if (name == "openat" && $0 ~ /"\/proc\/self\/task\/[0-9]+\/comm"/) {
		match($0, /task\/[0-9]+\//)
		naming = substr($0, RSTART + 5, RLENGTH - 6)
	}
	if (name == "write" && $0 ~ /"vcpu[0-9]+"/ && naming != "") {
		role[naming] = "vcpu"
		named_vcpu[FILENAME] = 1
		naming = ""
	}
	if (name == "prctl" && $0 ~ /"MHD-/)
		role[t] = "api"
	ro = (t in role) ? role[t] : "other"
	if (!(t in armed)) {
		if (ro == "main" && name == "epoll_wait" && named_vcpu[FILENAME])
			armed[t] = 1
		else if (ro == "vcpu" && name == "rt_sigprocmask" && $0 ~ /SIG_UNBLOCK, \[USR1\]/) {
			armed[t] = 1
			next
		} else if (ro == "api" && name == "accept4")
			armed[t] = 1
		else
			next
	}
	note(ro, "syscall " name)
	if (name == "ioctl" && match($0, /, [A-Z][A-Z_0-9]+/))
		note(ro, "ioctl " substr($0, RSTART + 2, RLENGTH - 2))
	if (name == "madvise" && match($0, /MADV_[A-Z_]+/))
		note(ro, "madvise " substr($0, RSTART, RLENGTH))
	if ((name == "mmap" || name == "mprotect") && match($0, /PROT_[A-Z_|]+/))
		note(ro, name " " substr($0, RSTART, RLENGTH))
	if (name == "mmap" && match($0, /MAP_[A-Z_|]+/))
		note(ro, "mmap " substr($0, RSTART, RLENGTH))
	if (name == "openat" && match($0, /O_[A-Z_|]+/))
		note(ro, "openat " substr($0, RSTART, RLENGTH))
	if (name == "fallocate" && match($0, /FALLOC_[A-Z_|]+/))
		note(ro, "fallocate " substr($0, RSTART, RLENGTH))
	if (name == "io_uring_register" && match($0, /IORING_[A-Z_]+/))
		note(ro, "io_uring_register " substr($0, RSTART, RLENGTH))
	if (name == "fcntl" && match($0, /F_[A-Z_]+/))
		note(ro, "fcntl " substr($0, RSTART, RLENGTH))
	if (name == "lseek" && match($0, /SEEK_[A-Z]+/))
		note(ro, "lseek " substr($0, RSTART, RLENGTH))
}
END {
	for (k in seen) {
		split(k, p, SUBSEP)
		print p[1] "\t" p[2]
	}
}
