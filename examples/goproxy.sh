#!/usr/bin/env bash
# Serves the example Go modules in examples/go-modules/ (MODULE@VERSION directories) through a
# file-based GOPROXY, so `go build` resolves them like modules from a real proxy and the binary's
# build info lists them with versions and h1: hashes (the public proxy is not reachable here).
#
#   export GOPROXY=$(examples/goproxy.sh [DIR]) GOSUMDB=off GOFLAGS=-mod=mod
#
# DIR defaults to target/goproxy. Prints the file:// URL. Idempotent and deterministic.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here/../target/goproxy}
mkdir -p "$out"
out=$(cd "$out" && pwd)
python3 - "$here/go-modules" "$out" <<'PY'
import os, sys, zipfile, json, tempfile
src, out = sys.argv[1], sys.argv[2]

def put(path, data):
    # Concurrent runs (parallel tests) each write a private temp file and rename it into place.
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix='.tmp-')
    with os.fdopen(fd, 'wb') as f:
        f.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)

for entry in sorted(os.listdir(src)):
    module_dir = os.path.join(src, entry)
    mod, version = entry.rsplit('@', 1)
    with open(os.path.join(module_dir, 'go.mod')) as f:
        gomod = f.read()
    declared = gomod.split('\n', 1)[0].split()[1]
    assert declared.split('/')[-1] == mod.split('/')[-1], f"{entry}: go.mod says {declared}"
    module = declared
    vdir = os.path.join(out, module, '@v')
    os.makedirs(vdir, exist_ok=True)
    put(os.path.join(vdir, f'{version}.mod'), gomod.encode())
    put(os.path.join(vdir, f'{version}.info'), json.dumps({"Version": version, "Time": "2024-01-01T00:00:00Z"}).encode())
    zpath = os.path.join(vdir, f'{version}.zip')
    fd, ztmp = tempfile.mkstemp(dir=vdir, prefix='.tmp-')
    os.close(fd)
    with zipfile.ZipFile(ztmp, 'w', zipfile.ZIP_DEFLATED) as z:
        for root, _, files in sorted(os.walk(module_dir)):
            for name in sorted(files):
                full = os.path.join(root, name)
                rel = os.path.relpath(full, module_dir)
                info = zipfile.ZipInfo(f'{module}@{version}/{rel}', date_time=(2024, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                with open(full, 'rb') as fh:
                    z.writestr(info, fh.read(), zipfile.ZIP_DEFLATED)
    os.chmod(ztmp, 0o644)
    os.replace(ztmp, zpath)
    versions = {v for v in os.listdir(vdir) if v.endswith('.info')}
    put(os.path.join(vdir, 'list'), ''.join(v[:-5] + '\n' for v in sorted(versions)).encode())
PY
echo "file://$out"
