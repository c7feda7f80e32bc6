module github.com/ambari-go/ambari-agent

go 1.26.8

require (
	github.com/go-stomp/stomp/v3 v3.1.5
	github.com/gorilla/websocket v1.5.3
	github.com/sirupsen/logrus v1.10.2
	golang.org/x/sys v0.13.0
	gopkg.in/ini.v1 v1.67.3
)
