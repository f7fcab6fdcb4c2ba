# Container images: `make images` builds docker/Dockerfile with podman on a locally made base and
# tags one image per job, pinpipe/<job>:<package.json version> (plus pinpipe/pinpipe:<version>,
# which takes the job as its first argument). See docs/container-images.md.
# The per-job images are the Dockerfile's `job` stage, written out here: podman 4.3 (Debian 12)
# reuses a cached ENV layer across different --build-arg values, which gave every job image the
# first job's entrypoint. The tiny layer is rebuilt without cache instead. A job image runs its job
# with no arguments (a Deployment gives none), so it drops the generic image's CMD ["--help"].

IMAGE_VERSION := $(shell node -p 'require("./package.json").version' 2>/dev/null)
IMAGE_PREFIX ?= pinpipe
# Every command the CLI registers (one folder per job with a command.ts), so a new job gets its image.
IMAGE_JOBS := $(shell sed -n "s/^  command: '\([a-z0-9-]*\).*/\1/p" jobs/*/command.ts)
export CONTAINERS_CONF ?= $(CURDIR)/docker/containers.conf
# Set BASE_IMAGE to build on another base (e.g. the official node:<.nvmrc>-bookworm-slim where a registry is reachable).
BASE_IMAGE ?=
# A CA bundle for npm inside the build (a proxy that re-signs TLS): Node's own variable, if set.
NPM_CA_BUNDLE ?= $(NODE_EXTRA_CA_CERTS)
PODMAN_BUILD = podman build --network host --ignorefile docker/Dockerfile.dockerignore -f docker/Dockerfile \
	--build-arg VERSION=$(IMAGE_VERSION) --build-arg NODE_VERSION=$(shell cat .nvmrc) $(if $(NPM_CA_BUNDLE),--secret id=npm_ca$(comma)src=$(NPM_CA_BUNDLE))
comma := ,

.PHONY: images image-tools test-images

image-tools: ## Install podman, runc and debootstrap from Debian when missing
	@missing=(); for c in podman runc debootstrap; do command -v $$c >/dev/null || missing+=($$c); done; \
	if (( $${#missing[@]} )); then \
	  echo "images: apt-get install $${missing[*]}"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq -o DPkg::Lock::Timeout=600 && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 podman runc debootstrap uidmap >/dev/null; \
	fi

images: image-tools ## Build the job images with podman: pinpipe/<job>:<version>, one per job
	@base="$(BASE_IMAGE)"; [[ -n $$base ]] || base=$$(docker/make-base.sh); \
	started=$$(date +%s); \
	echo "images: building on $$base"; \
	$(PODMAN_BUILD) --build-arg BASE_IMAGE=$$base --target runtime -t $(IMAGE_PREFIX)/pinpipe:$(IMAGE_VERSION) . ; \
	for job in $(IMAGE_JOBS); do \
	  printf 'FROM %s\nENV PINPIPE_IMAGE_JOB=%s\nLABEL org.opencontainers.image.title="pinpipe %s"\nCMD []\n' \
	    $(IMAGE_PREFIX)/pinpipe:$(IMAGE_VERSION) $$job $$job | \
	    podman build --quiet --no-cache -t $(IMAGE_PREFIX)/$$job:$(IMAGE_VERSION) -f - docker >/dev/null; \
	  echo "images: $(IMAGE_PREFIX)/$$job:$(IMAGE_VERSION)"; \
	done; \
	echo "images: done in $$(( $$(date +%s) - started )) s"; \
	podman images --filter reference='$(IMAGE_PREFIX)/*' --format '{{.Repository}}:{{.Tag}} {{.Size}}'

EXTRA_TESTS += test-images

# What only a built image can show: the runtime is .nvmrc's, the jobs run as uid 10001, every
# job's --help works in its own image and no job prints a deprecation warning there.
test-images: images ## Check the built images: Node.js version, user, each job's --help, no warnings
	@want=v$$(cat .nvmrc); \
	got=$$(podman run --rm --network host --entrypoint node $(IMAGE_PREFIX)/pinpipe:$(IMAGE_VERSION) --version); \
	[[ $$got == "$$want" ]] || { echo "test-images: the image runs Node.js $$got, .nvmrc says $$want" >&2; exit 1; }; \
	uid=$$(podman run --rm --network host --entrypoint id $(IMAGE_PREFIX)/pinpipe:$(IMAGE_VERSION) -u); \
	[[ $$uid == 10001 ]] || { echo "test-images: the image runs as uid $$uid, not 10001" >&2; exit 1; }; \
	for job in $(IMAGE_JOBS); do \
	  out=$$(podman run --rm --network host $(IMAGE_PREFIX)/$$job:$(IMAGE_VERSION) --help 2>&1) || \
	    { echo "test-images: $$job --help failed in its image:" >&2; echo "$$out" >&2; exit 1; }; \
	  grep -q "pinpipe $$job" <<<"$$out" || { echo "test-images: $$job --help does not describe $$job:" >&2; echo "$$out" >&2; exit 1; }; \
	  ! grep -qi "warning" <<<"$$out" || { echo "test-images: $$job printed a warning in its image:" >&2; echo "$$out" >&2; exit 1; }; \
	done; \
	echo "test-images: Node.js $$got, uid 10001, $(words $(IMAGE_JOBS)) jobs' --help clean"
