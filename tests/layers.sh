#!/usr/bin/env bash
# Checks the dependency rule on every #include: core/ sees only itself;
# devices/ and arch/ see core/ and themselves; only vmm/ sees everything.
# Names each file and include that crosses the rule; exit 1 if any does.
# The Makefile's include paths catch most crossings at compile time; this
# also catches relative paths ("../../vmm/x.h") and headers the build found
# by accident.
set -euo pipefail
cd "$(dirname "$0")/.."

bad=0
complain() {
	echo "layers: $1:$2: includes $3 ($4)" >&2
	bad=$((bad + 1))
}

# layer_of PATH -> core | devices | arch | vmm | other
layer_of() {
	case "$1" in
	core/*) echo core ;;
	devices/*) echo devices ;;
	arch/*) echo arch ;;
	vmm/*) echo vmm ;;
	*) echo other ;;
	esac
}

allowed() { # allowed FROM_LAYER TO_LAYER
	case "$1:$2" in
	core:core | devices:core | devices:devices | arch:core | arch:arch) return 0 ;;
	*) return 1 ;;
	esac
}

rule() {
	case "$1" in
	core) echo "core/ may include core/ only" ;;
	devices) echo "devices/ may include core/ and devices/ only" ;;
	arch) echo "arch/ may include core/ and arch/ only" ;;
	esac
}

while IFS= read -r file; do
	from=$(layer_of "$file")
	dir=$(dirname "$file")
	while IFS=: read -r line text; do
		if [[ $text =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]+)\" ]]; then
			inc=${BASH_REMATCH[1]}
			# A quoted include resolves beside the file first.
			target=$(realpath -m --relative-to=. "$dir/$inc")
			if [ ! -e "$target" ]; then
				# Then through the layer's -I paths: anything found
				# under vmm/ is a crossing.
				target=""
				for top in vmm "$(dirname "$file" | cut -d/ -f1)"; do
					[ -e "$top/$inc" ] && { target="$top/$inc"; break; }
				done
				[ -n "$target" ] || { complain "$file" "$line" "\"$inc\"" "no such header beside the file"; continue; }
			fi
			to=$(layer_of "$target")
			allowed "$from" "$to" || complain "$file" "$line" "\"$inc\" ($target)" "$(rule "$from")"
		elif [[ $text =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\<([^\>]+)\> ]]; then
			inc=${BASH_REMATCH[1]}
			case "$inc" in
			core/*) to=core ;;
			devices/*) to=devices ;;
			arch/*) to=arch ;;
			*)
				# A system header, unless a project header of that
				# name exists under vmm/.
				[ -e "vmm/$inc" ] && to=vmm || continue
				;;
			esac
			allowed "$from" "$to" || complain "$file" "$line" "<$inc>" "$(rule "$from")"
		fi
	done < <(grep -n '^[[:space:]]*#[[:space:]]*include' "$file" || true)
done < <(git ls-files --cached --others --exclude-standard -- 'core/*.[ch]' 'devices/*.[ch]' 'arch/*.[ch]')

if [ "$bad" -gt 0 ]; then
	echo "layers: $bad include(s) cross the dependency rule (docs/architecture.md)" >&2
	exit 1
fi
echo "layers: core, devices and arch include only what the dependency rule allows"
