package namesrv

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var rewrite = flag.Bool("rewrite", false, "rewrite testdata/*.txt with the actual output")

// TestScripts runs the scenarios in testdata/*.txt against a RouteInfo, in
// the manner of cockroachdb/datadriven (without the dependency). A file is a
// series of blocks:
//
//	command arg key=value ...
//	----
//	expected output
//	<blank line>
//
// go test -run TestScripts -rewrite regenerates the expected output; review
// the diff. Commands:
//
//	register <broker-name> <addr> [id=0] [cluster=DefaultCluster] [ha=addr]
//	         [dv=counter] [state=stateVersion] [timeout=dur] [conn=N]
//	         [acting] [topics=name:queues:perm,...]
//	unregister <broker-name> <addr> [cluster=DefaultCluster]
//	advance <dur>          move the clock
//	scan                   drop the brokers whose timeout passed
//	close conn=N           the connection closed
//	route <topic>          the route JSON, or TOPIC_NOT_EXIST
//	cluster                GET_BROKER_CLUSTER_INFO's JSON
//	topics [cluster=C]     all topics, or a cluster's
//	delete <topic> [cluster=C]
//	wipe|addperm <broker-name>
//	brokers                the live brokers
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) { runScript(t, file) })
	}
}

func runScript(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	var out strings.Builder
	s := &scriptState{r: NewRouteInfo(DefaultConfig(), nil)}
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			out.WriteString(line + "\n")
			continue
		}
		cmdLine := i + 1
		if i+1 >= len(lines) || lines[i+1] != "----" {
			t.Fatalf("%s:%d: command without ----", file, cmdLine)
		}
		i += 2
		var want []string
		for ; i < len(lines) && lines[i] != ""; i++ {
			want = append(want, lines[i])
		}
		got, err := s.run(line)
		if err != nil {
			t.Fatalf("%s:%d: %s: %v", file, cmdLine, line, err)
		}
		got = strings.TrimRight(got, "\n")
		if !*rewrite && got != strings.Join(want, "\n") {
			t.Errorf("%s:%d: %s\n got: %s\nwant: %s", file, cmdLine, line, got, strings.Join(want, "\n"))
		}
		out.WriteString(line + "\n----\n" + got + "\n")
		if i < len(lines) {
			out.WriteString("\n")
		}
	}
	if *rewrite {
		if err := os.WriteFile(file, []byte(strings.TrimRight(out.String(), "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type scriptState struct {
	r   *RouteInfo
	now time.Duration
}

// args splits "cmd pos1 pos2 k=v flag" into positionals and keyed values.
func args(fields []string) (pos []string, kv map[string]string) {
	kv = map[string]string{}
	for _, f := range fields {
		if k, v, ok := strings.Cut(f, "="); ok {
			kv[k] = v
		} else {
			pos = append(pos, f)
		}
	}
	return pos, kv
}

func (s *scriptState) run(line string) (string, error) {
	fields := strings.Fields(line)
	pos, kv := args(fields[1:])
	need := func(n int) error {
		if len(pos) < n {
			return fmt.Errorf("want %d arguments", n)
		}
		return nil
	}
	cluster := kv["cluster"]
	switch fields[0] {
	case "register":
		if err := need(2); err != nil {
			return "", err
		}
		return s.register(pos, kv)
	case "unregister":
		if err := need(2); err != nil {
			return "", err
		}
		if cluster == "" {
			cluster = "DefaultCluster"
		}
		s.r.UnregisterBroker(cluster, pos[1], pos[0])
		return "ok", nil
	case "advance":
		if err := need(1); err != nil {
			return "", err
		}
		d, err := time.ParseDuration(pos[0])
		if err != nil {
			return "", err
		}
		s.now += d
		return "now " + s.now.String(), nil
	case "scan":
		var out []string
		for _, e := range s.r.ScanNotActiveBrokers(s.now) {
			out = append(out, fmt.Sprintf("expired %s/%s %s conn=%d timeout=%v", e.ClusterName, e.BrokerAddr, e.BrokerName, e.ConnID, e.Timeout))
		}
		return orNone(out), nil
	case "close":
		conn, err := strconv.ParseUint(kv["conn"], 10, 64)
		if err != nil {
			return "", err
		}
		var out []string
		for _, b := range s.r.ConnClosed(conn) {
			out = append(out, "dropped "+b.ClusterName+"/"+b.BrokerAddr)
		}
		return orNone(out), nil
	case "route":
		if err := need(1); err != nil {
			return "", err
		}
		rd, ok := s.r.TopicRoute(pos[0])
		if !ok {
			return "TOPIC_NOT_EXIST", nil
		}
		return string(rd.Encode()), nil
	case "cluster":
		ci := s.r.ClusterInfo()
		return string(ci.Encode()), nil
	case "topics":
		if cluster != "" {
			return strings.Join(s.r.TopicsByCluster(cluster), " "), nil
		}
		return strings.Join(s.r.AllTopics(), " "), nil
	case "delete":
		if err := need(1); err != nil {
			return "", err
		}
		s.r.DeleteTopic(pos[0], cluster)
		return "ok", nil
	case "wipe", "addperm":
		if err := need(1); err != nil {
			return "", err
		}
		op := s.r.WipeWritePerm
		if fields[0] == "addperm" {
			op = s.r.AddWritePerm
		}
		return fmt.Sprintf("%d topics", op(pos[0])), nil
	case "brokers":
		var out []string
		for _, b := range s.r.Brokers() {
			out = append(out, b.ClusterName+"/"+b.BrokerAddr)
		}
		return orNone(out), nil
	}
	return "", fmt.Errorf("unknown command %q", fields[0])
}

func orNone(lines []string) string {
	if len(lines) == 0 {
		return "none"
	}
	return strings.Join(lines, "\n")
}

func (s *scriptState) register(pos []string, kv map[string]string) (string, error) {
	reg := Registration{
		ClusterName:  "DefaultCluster",
		BrokerName:   pos[0],
		BrokerAddr:   pos[1],
		HAServerAddr: kv["ha"],
		Body:         RegisterBrokerBody{TopicConfigTable: map[string]TopicConfig{}},
	}
	if c := kv["cluster"]; c != "" {
		reg.ClusterName = c
	}
	_, reg.EnableActingMaster = kv["acting"]
	if v, ok := kv["acting"]; ok && v != "" {
		return "", fmt.Errorf("acting takes no value")
	}
	ints := []struct {
		key string
		dst *int64
	}{{"id", &reg.BrokerID}, {"dv", &reg.Body.DataVersion.Counter}, {"state", &reg.Body.DataVersion.StateVersion}}
	for _, f := range ints {
		if v, ok := kv[f.key]; ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return "", fmt.Errorf("%s: %w", f.key, err)
			}
			*f.dst = n
		}
	}
	if v, ok := kv["conn"]; ok {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return "", err
		}
		reg.ConnID = n
	}
	if v, ok := kv["timeout"]; ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			return "", err
		}
		reg.HeartbeatTimeout = d
	}
	if v := kv["topics"]; v != "" {
		for _, spec := range strings.Split(v, ",") {
			f := strings.Split(spec, ":")
			if len(f) != 3 {
				return "", fmt.Errorf("topic %q: want name:queues:perm", spec)
			}
			q, err1 := strconv.Atoi(f[1])
			p, err2 := strconv.Atoi(f[2])
			if err1 != nil || err2 != nil {
				return "", fmt.Errorf("topic %q: want name:queues:perm", spec)
			}
			reg.Body.TopicConfigTable[f[0]] = topic(f[0], int32(q), int32(p))
		}
	}
	res := s.r.RegisterBroker(s.now, reg)
	switch {
	case res.Rejected:
		return "rejected", nil
	case res.MasterAddr != "":
		return "masterAddr=" + res.MasterAddr + " haServerAddr=" + res.HAServerAddr, nil
	}
	return "ok", nil
}
