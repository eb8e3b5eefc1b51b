package messages

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// bodyOneof is looked up on use: package variables initialise before the
// generated file registers its descriptors.
func bodyOneof() protoreflect.OneofDescriptor {
	return (&Envelope{}).ProtoReflect().Descriptor().Oneofs().ByName("body")
}

// Wrap puts msg in an Envelope's body; msg must be one of the body's types.
func Wrap(correlationID uint64, msg proto.Message) (*Envelope, error) {
	env := &Envelope{CorrelationId: correlationID, ProtocolVersion: ProtocolVersion}
	name := msg.ProtoReflect().Descriptor().FullName()
	fields := bodyOneof().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.Message() != nil && fd.Message().FullName() == name {
			env.ProtoReflect().Set(fd, protoreflect.ValueOfMessage(msg.ProtoReflect()))
			return env, nil
		}
	}
	return nil, fmt.Errorf("%s cannot travel in an envelope", name)
}

// MustWrap is Wrap for messages known at compile time to be body types.
func MustWrap(correlationID uint64, msg proto.Message) *Envelope {
	env, err := Wrap(correlationID, msg)
	if err != nil {
		panic(err)
	}
	return env
}

// Unwrap returns the Envelope's body, or nil when it has none (or one this
// build does not know: a newer peer's message arrives as unknown fields).
func Unwrap(env *Envelope) proto.Message {
	fd := env.ProtoReflect().WhichOneof(bodyOneof())
	if fd == nil {
		return nil
	}
	return env.ProtoReflect().Get(fd).Message().Interface()
}
