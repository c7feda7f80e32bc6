package procinfo

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	line := "4242 (a) b (c)) S 1 4240 4240 0 -1 4194560 107 0 0 0 0 0 0 0 20 0 1 0 987654 1234 56 18446744073709551615\n"
	st, err := ParseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	want := Stat{PID: 4242, State: 'S', PPID: 1, PGID: 4240, StartTime: 987654}
	if st != want {
		t.Fatalf("got %+v, want %+v", st, want)
	}
	for _, bad := range []string{"", "12 (x", "12 (x) S 1 2", "x (y) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"} {
		if _, err := ParseStat([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// A process keeps its identity across exec, which is how the agent
// restarts itself: the pid file stays valid.
func TestIdentitySurvivesExec(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "echo ready; read line; exec sleep 1000")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	before, err := Identify(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	exeBefore, _ := Exe(cmd.Process.Pid)
	stdin.Write([]byte("go\n"))
	deadline := time.Now().Add(30 * time.Second)
	for {
		if args := Cmdline(cmd.Process.Pid); len(args) > 0 && strings.HasSuffix(args[0], "sleep") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the shell never exec'd sleep")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if ok, why := before.Same(); !ok {
		t.Fatalf("identity lost across exec: %s", why)
	}
	after, _ := Identify(cmd.Process.Pid)
	if after.StartTime != before.StartTime {
		t.Fatalf("start time changed across exec: %d -> %d", before.StartTime, after.StartTime)
	}
	if exeAfter, _ := Exe(cmd.Process.Pid); exeAfter == exeBefore {
		t.Errorf("exe did not change across exec (%s); the test proves nothing", exeAfter)
	}
}

func TestIdentityOfAnotherProcess(t *testing.T) {
	self, err := Identify(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if ok, why := self.Same(); !ok {
		t.Fatalf("own identity not recognised: %s", why)
	}
	reused := self
	reused.StartTime++
	if ok, _ := reused.Same(); ok {
		t.Error("a different start time counted as the same process")
	}
	rebooted := self
	rebooted.BootID = "00000000-0000-0000-0000-000000000000"
	if ok, _ := rebooted.Same(); ok && BootID() != "" {
		t.Error("a different boot counted as the same process")
	}

	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := (Identity{PID: cmd.Process.Pid, StartTime: self.StartTime}).Same(); ok {
		t.Error("a process that exited counted as running")
	}
}
