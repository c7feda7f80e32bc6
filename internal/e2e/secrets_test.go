package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/ambari-go/ambari-agent/internal/protocol"
	"github.com/ambari-go/ambari-agent/internal/sim"
)

// TestCommandOutputSecretsMasked: with log_command_executes=1 a command's
// output is copied to the agent log with the values of secret keys masked,
// whichever form the script printed them in; the report to the server
// keeps the output as it was.
func TestCommandOutputSecretsMasked(t *testing.T) {
	e := startCmdEnv(t, "e2e-mask", Ini{"logging": {"log_command_executes": "1"}}, 60*time.Second)
	printed := `{"db_password": "hunter2", 'ldap.secret': u'sesame', keystore.password=changeit}`
	id := e.send(sim.CommandSpec{RoleCommand: "ACTIONEXECUTE", Action: "demo_action",
		CommandParams: sim.StringMap{"message": printed}})
	r := cmdFinal(t, e.done(id), protocol.StatusCompleted)
	if !strings.Contains(cmdText(r.Stdout), "hunter2") {
		t.Errorf("the report lost the output: %q", cmdText(r.Stdout))
	}
	if !e.a.waitLog(e.ctx, "End command output log for command with id = ") {
		t.Fatal("the command output was not copied to the log")
	}
	log := e.a.Log()
	for _, secret := range []string{"hunter2", "sesame", "changeit"} {
		if strings.Contains(log, secret) {
			t.Errorf("the agent log holds %q", secret)
		}
	}
	want := `{"db_password": "[PROTECTED]", 'ldap.secret': u'[PROTECTED]', keystore.password=[PROTECTED]}`
	if !strings.Contains(log, want) {
		t.Errorf("the agent log lacks the masked output %s", want)
	}
}
