# shellcheck shell=bash
# Sourced after common.sh: fetches the kernel package a Debian metapackage
# depends on and unpacks it with dpkg -x (never installed), with a modules.dep.
#
#   debkernel_fetch META CACHE_DIR   prints the unpacked tree's path
#
# META is e.g. linux-image-cloud-amd64; the tree is CACHE_DIR/PKG_VERSION.
# The resolution is remembered until the apt lists change; offline, the
# newest tree already unpacked for META's flavour is used.

# Resolving costs ~0.5 s of apt-cache.
_debkernel_lists_key() {
	stat -c '%n %Y %s' /var/lib/apt/lists/*_Packages* 2>/dev/null | md5sum | cut -d' ' -f1
}

# "PKG VERSION" of the linux-image-N package META depends on.
_debkernel_resolve() {
	local p v
	p=$(apt-cache depends "$1" 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1)
	[ -n "$p" ] || return 1
	v=$(apt-cache show --no-all-versions "$p" 2>/dev/null | sed -n 's/^Version: //p' | head -n1)
	[ -n "$v" ] || return 1
	echo "$p $v"
}

debkernel_fetch() {
	local meta=$1 cache=$2 key pkgver= pkg ver kdir tmp kver
	local resolved=$cache/resolved-$meta
	mkdir -p "$cache"
	key=$(_debkernel_lists_key)
	if [ -f "$resolved" ] && [ "$(cut -d' ' -f1 "$resolved")" = "$key" ]; then
		pkgver=$(cut -d' ' -f2- "$resolved")
	fi
	if [ -z "$pkgver" ]; then
		if ! pkgver=$(_debkernel_resolve "$meta"); then
			echo "testhost: apt lists lack $meta; running apt-get update" >&2
			if [ "$(id -u)" = 0 ]; then
				apt-get update -q >/dev/null 2>&1 || true
			else
				sudo -n apt-get update -q >/dev/null 2>&1 || true
			fi
			key=$(_debkernel_lists_key)
			pkgver=$(_debkernel_resolve "$meta") || pkgver=
		fi
		[ -n "$pkgver" ] && echo "$key $pkgver" >"$resolved"
	fi

	if [ -n "$pkgver" ]; then
		pkg=${pkgver% *}
		ver=${pkgver#* }
		kdir=$cache/${pkg}_$ver
	else
		# linux-image-cloud-amd64 -> linux-image-*-cloud-amd64_*
		kdir=$(ls -d "$cache/linux-image-"*"-${meta#linux-image-}_"*/ 2>/dev/null | sort -V | tail -n1)
		kdir=${kdir%/}
		[ -n "$kdir" ] || { echo "testhost: cannot resolve $meta and nothing is cached in $cache" >&2; return 1; }
		echo "testhost: apt cannot resolve $meta; using cached $(basename "$kdir")" >&2
	fi

	if [ ! -d "$kdir" ]; then
		echo "testhost: fetching $pkg $ver (unpacked, not installed)" >&2
		tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
		# _apt cannot write into a root-only cache dir: let it, or apt warns.
		chmod 755 "$tmp"
		if ! (cd "$tmp" && apt-get download -q "$pkg=$ver") >"$tmp/log" 2>&1; then
			cat "$tmp/log" >&2
			rm -rf "$tmp"
			echo "testhost: apt-get download $pkg=$ver failed" >&2
			return 1
		fi
		dpkg -x "$tmp/${pkg}"_*.deb "$tmp/root"
		kver=$(basename "$(ls -d "$tmp"/root/lib/modules/*/ | head -n1)")
		# The package ships no modules.dep (postinst makes it); make one.
		depmod -b "$tmp/root" "$kver"
		mv "$tmp/root" "$kdir"
		rm -rf "$tmp"
	fi
	echo "$kdir"
}

# debkernel_module_order MODDIR NAME...: the .ko paths (relative to MODDIR)
# of the named modules and their dependencies, in load order (modules.dep
# lists a module's dependencies so that loading them last to first works).
debkernel_module_order() {
	local moddir=$1 m path
	shift
	declare -A _dk_seen=()
	_debkernel_add() {
		local p=$1 deps i
		[ -n "${_dk_seen[$p]:-}" ] && return
		deps=$(awk -v m="$p:" '$1 == m { $1 = ""; print }' "$moddir/modules.dep")
		read -ra deps <<<"$deps"
		for ((i = ${#deps[@]} - 1; i >= 0; i--)); do
			_debkernel_add "${deps[i]}"
		done
		_dk_seen[$p]=1
		echo "$p"
	}
	for m in "$@"; do
		path=$(awk -v m="$m" '{ p = $1; sub(/:$/, "", p); n = p; sub(/.*\//, "", n);
			sub(/\.ko(\.[a-z]+)?$/, "", n); if (n == m) { print p; exit } }' "$moddir/modules.dep")
		[ -n "$path" ] || { echo "testhost: module $m not in $moddir/modules.dep" >&2; return 1; }
		_debkernel_add "$path"
	done
}
