module github.com/ambari-go/ambari-agent

go 1.26.8

require (
	github.com/go-stomp/stomp/v3 v3.1.5 // indirect
	github.com/gorilla/websocket v1.5.3 // indirect
	github.com/sirupsen/logrus v1.10.2 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/sys v0.13.0 // indirect
	gopkg.in/ini.v1 v1.67.3 // indirect
)
