package cli

import (
	"errors"

	"github.com/mzt-dev/mzt/client"
)

func isNotRunning(err error) bool { return errors.Is(err, client.ErrNotRunning) }
