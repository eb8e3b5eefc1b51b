# The menu of mzt's chores. `just --list` shows it.

# Build bin/mzt and bin/mzt-conductor (mzt start runs the one beside mzt), and bin/mzt-bench.
build:
    go build -o bin/ ./cmd/...

# Run every test with the race detector (what CI runs).
test:
    go test -race -count=1 ./...

# gofmt check and go vet.
lint:
    test -z "$(gofmt -l $(git ls-files '*.go'))" || (gofmt -l $(git ls-files '*.go'); exit 1)
    go vet ./...

# Regenerate messages/*.pb.go and the Conductor service's connect-go code
# (needs protoc from Debian: apt-get install protobuf-compiler).
proto:
    go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
    go install connectrpc.com/connect/cmd/protoc-gen-connect-go@v1.21.1
    protoc --go_out=. --go_opt=module=github.com/mzt-dev/mzt --connect-go_out=. --connect-go_opt=module=github.com/mzt-dev/mzt -I messages messages/mzt.proto messages/conductor.proto

# Regenerate into a temp dir and fail if the committed code differs.
proto-check:
    #!/usr/bin/env bash
    set -euo pipefail
    go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
    go install connectrpc.com/connect/cmd/protoc-gen-connect-go@v1.21.1
    tmp=$(mktemp -d)
    protoc --go_out="$tmp" --go_opt=module=github.com/mzt-dev/mzt --connect-go_out="$tmp" --connect-go_opt=module=github.com/mzt-dev/mzt -I messages messages/mzt.proto messages/conductor.proto
    diff -u messages/mzt.pb.go "$tmp/messages/mzt.pb.go"
    diff -u messages/conductor.pb.go "$tmp/messages/conductor.pb.go"
    diff -u messages/messagesconnect/conductor.connect.go "$tmp/messages/messagesconnect/conductor.connect.go"

# Measure against floors and peers in one run, then the Go benchmarks.
bench:
    go run ./cmd/mzt-bench
    go test -run '^$' -bench . -benchtime 2s ./messages/ ./actors/...

# Short fuzzing of the decoders and parsers.
fuzz:
    go test -run '^$' -fuzz '^FuzzReadFrame$' -fuzztime 30s ./messages/
    go test -run '^$' -fuzz '^FuzzParse$' -fuzztime 30s ./config/score/
    go test -run '^$' -fuzz '^FuzzRender$' -fuzztime 30s ./config/score/
    go test -run '^$' -fuzz '^FuzzRenderBounded$' -fuzztime 30s ./config/score/
    go test -run '^$' -fuzz '^FuzzParse$' -fuzztime 30s ./config/instrument/
    go test -run '^$' -fuzz '^FuzzDecode$' -fuzztime 30s ./config/strict/

# lint + proto-check + test.
check: lint proto-check test

# kill -9 the conductor ten times during 50 running sheets, then 40 times during bursts of fast sheets; everything lost or repeated must be 0.
soak:
    go run ./cmd/mzt-bench soak -cycles 10 -sheets 50
    go run ./cmd/mzt-bench soak -burst -cycles 40 -jobs 4 -sheets 10
