package actionqueue

import "testing"

// FuzzDecodeCommands decodes arbitrary /user/commands bodies. Decoding
// must never panic, and every command it returns is an object.
func FuzzDecodeCommands(f *testing.F) {
	for _, s := range []string{
		`{"clusters":{"2":{"commands":[{"commandType":"EXECUTION_COMMAND","taskId":1,"role":"ZK_SERVER","roleCommand":"START"}],"cancelCommands":[]}},"requiredConfigTimestamp":1700000000000}`,
		`{"clusters":{"-1":{"commands":[{"commandType":"EXECUTION_COMMAND","taskId":2,"roleCommand":"ACTIONEXECUTE"}]},"2":{"cancelCommands":[{"target_task_id":1,"reason":"aborted"}]}}}`,
		`{"clusters":{"2":{"commands":[1,"x",null,{"taskId":3}]}}}`,
		`{"clusters":{"2":{"commands":[{"commandType":"NO_SUCH_TYPE","taskId":4}]}}}`,
		`{"clusters":null,"requiredConfigTimestamp":null}`,
		`{"clusters":[],"requiredConfigTimestamp":"x"}`,
		`null`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := decodeCommandsEvent(body)
		if err != nil {
			return
		}
		for i, c := range ev.commands {
			if c == nil {
				t.Fatalf("command %d decoded as nil", i)
			}
		}
	})
}
