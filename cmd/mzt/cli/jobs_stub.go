package cli

type RunCmd struct{}
type StatusCmd struct{}
type ListCmd struct{}
type PauseCmd struct{}
type ResumeCmd struct{}
type CancelCmd struct{}
type LogsCmd struct{}
type ValidateCmd struct{}
type InstrumentsCmd struct{}
