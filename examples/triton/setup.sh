#!/usr/bin/env bash
# Checks that the Docker and Triton CLIs point at the same Triton account and
# data center with CNS enabled, then writes _env for docker-compose.yml:
# CONSUL (the Consul server's CNS name) and the Manta backup settings with the
# given SSH key. The key goes only into _env (mode 600), never to the
# terminal, and never on a command line.
#
#   ./setup.sh ~/.ssh/id_rsa
set -euo pipefail

usage() {
	cat <<'USAGE'
Usage: ./setup.sh PATH_TO_MANTA_PRIVATE_KEY

Checks that your Triton and Docker environment is sane and writes _env.

PATH_TO_MANTA_PRIVATE_KEY is an unencrypted RSA or ECDSA SSH private key of
your Triton account, used to store the backups in Manta. setup.sh writes its
MD5 fingerprint as MANTA_KEY_ID and the key itself as MANTA_PRIVATE_KEY with
each newline written as '#'. Edit _env afterwards for the other MANTA_* values.
An existing _env is never overwritten.
USAGE
}

fail() {
	printf '\nError: %s\n' "$1" >&2
	shift
	local line
	for line in "$@"; do printf '  %s\n' "$line" >&2; done
	exit 1
}

need() {
	command -v "$1" >/dev/null 2>&1 || fail "$1 is required but not installed." "$2"
}

# field prints the value of "name: value" lines of a CLI's output.
field() {
	awk -v k="$1" '{ sub(/^[[:space:]]+/, "") } index($0, k ": ") == 1 { print substr($0, length(k) + 3); exit }'
}

check_key() {
	local key=$1
	[[ -r $key ]] || fail "cannot read the private key $key."
	# -P '' fails on a passphrase-protected key: redis-autopilot cannot use one.
	ssh-keygen -y -P '' -f "$key" >/dev/null 2>&1 ||
		fail "$key is not an unencrypted SSH private key." "Manta backups need a key without a passphrase."
	case $(ssh-keygen -l -f "$key" 2>/dev/null | awk '{print $NF}') in
	"(RSA)" | "(ECDSA)") ;;
	*) fail "$key is not an RSA or ECDSA key (Manta request signing supports those)." ;;
	esac
}

# check_triton sets TRITON_USER, TRITON_DC and TRITON_ACCOUNT.
check_triton() {
	need docker 'See https://docs.joyent.com/public-cloud/api-access/docker'
	need triton 'See https://docs.joyent.com/public-cloud/api-access/cloudapi (npm install -g triton)'
	need ssh-keygen 'Install OpenSSH (the openssh-client package).'

	local profile account docker_user docker_dc
	profile=$(triton profile get) || fail "triton profile get failed: is a Triton profile configured?"
	account=$(triton account get) || fail "triton account get failed."
	TRITON_USER=$(field account <<<"$profile")
	TRITON_DC=$(field url <<<"$profile" | awk -F/ '{print $3}' | cut -d. -f1)
	TRITON_ACCOUNT=$(field id <<<"$account")
	docker_user=$(docker info 2>/dev/null | field SDCAccount || true)
	docker_dc=$(awk -F/ '{print $3}' <<<"${DOCKER_HOST:-}" | cut -d. -f1)

	if [[ -z $TRITON_USER || -z $TRITON_DC || -z $TRITON_ACCOUNT ]]; then
		fail "could not read the account and data center from the triton CLI."
	fi
	if [[ $docker_user != "$TRITON_USER" || $docker_dc != "$TRITON_DC" ]]; then
		fail "the Triton CLI configuration does not match the Docker CLI configuration." \
			"Docker user: ${docker_user:-(none)}" "Triton user: $TRITON_USER" \
			"Docker data center: ${docker_dc:-(none)}" "Triton data center: $TRITON_DC" \
			"Run: eval \"\$(triton env)\""
	fi
	if [[ $(field triton_cns_enabled <<<"$account") != true ]]; then
		fail "Triton CNS is required and not enabled." "Run: triton account update triton_cns_enabled=true"
	fi
}

write_env() {
	local key=$1 env=$2 key_id
	key_id=$(ssh-keygen -l -E md5 -f "$key" | awk '{sub(/^MD5:/, "", $2); print $2}')
	[[ -n $key_id ]] || fail "could not read the MD5 fingerprint of $key."
	umask 077
	{
		echo '# Written by setup.sh. Holds a private key: keep it secret (mode 600).'
		echo '# Backups to Manta. MANTA_BUCKET defaults to /<MANTA_USER>/stor/triton-redis.'
		echo 'MANTA_URL=https://us-east.manta.joyent.com'
		echo "MANTA_USER=$TRITON_USER"
		echo 'MANTA_SUBUSER='
		echo 'MANTA_ROLE='
		echo 'MANTA_BUCKET='
		echo "MANTA_KEY_ID=$key_id"
		printf 'MANTA_PRIVATE_KEY='
		tr '\n' '#' <"$key"
		echo
		echo
		echo '# Consul discovery via Triton CNS'
		echo "CONSUL=redis-consul.svc.$TRITON_ACCOUNT.$TRITON_DC.cns.joyent.com"
	} >"$env.tmp"
	chmod 600 "$env.tmp"
	mv "$env.tmp" "$env"
	echo "Wrote $env (MANTA_USER=$TRITON_USER, MANTA_KEY_ID=$key_id)."
	echo "Edit it for MANTA_URL, MANTA_BUCKET and the other MANTA_* values, then: docker-compose up -d"
}

main() {
	case ${1:-} in
	"" | -h | --help | help)
		usage
		[[ -n ${1:-} ]] || exit 1
		exit 0
		;;
	esac
	local key=$1 env
	# _env goes next to docker-compose.yml, wherever setup.sh is run from.
	env="$(dirname "$0")/_env"
	[[ ! -e $env ]] || fail "$env exists; not overwriting it. Remove it to write a new one."
	check_key "$key"
	check_triton
	write_env "$key" "$env"
}

main "$@"
