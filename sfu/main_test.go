package sfu

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind once
// its SFU has closed: workers, slow-path writers, streams' read loops.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
