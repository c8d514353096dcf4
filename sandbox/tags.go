package sandbox

import "net"

// LUKSOffTag turns off the LUKS check of a desired state that declares
// it as the example does (`verify: *true | bool @tag(luks_verify,type=bool)`):
// a sandbox's drive is a plain loop device or directory.
const LUKSOffTag = "luks_verify=false"

// FreeLoopbackURL is an http URL on a free 127.0.0.1 port, for a sandbox
// server that must not collide with a real one.
func FreeLoopbackURL() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return "http://" + l.Addr().String(), nil
}
