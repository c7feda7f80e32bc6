package agent

import (
	"fmt"
	"os"
)

// tmpDirMode is the tmp dir's mode, as the package sets it: every user's
// stack scripts write there, and only the owner of a file may remove it.
const tmpDirMode = os.ModeSticky | 0o777

// ensureTmpDir gives an existing tmp dir mode 1777. os.MkdirAll cannot:
// the umask clears bits and a numeric 0o1777 is not Go's sticky bit.
func ensureTmpDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("tmp dir: %w", err)
	}
	if st.Mode()&(os.ModeSticky|os.ModePerm) == tmpDirMode {
		return nil
	}
	if err := os.Chmod(dir, tmpDirMode); err != nil {
		return fmt.Errorf("cannot set mode 1777 on %s: %w", dir, err)
	}
	return nil
}
