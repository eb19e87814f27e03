package signaling_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind once
// its server and clients have closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
