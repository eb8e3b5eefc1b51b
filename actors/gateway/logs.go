package gateway

import (
	"context"

	"github.com/mzt-dev/mzt/messages"
	"google.golang.org/protobuf/proto"
)

func (d *dispatcher) streamLogs(ctx context.Context, req *messages.LogsRequest, send func(proto.Message) error) error {
	return messages.NewError(messages.ErrorCode_ERROR_CODE_UNSUPPORTED, "", "logs are not served yet")
}
