// replay: play the client side of test/vectors against a node
// and compare every response with the one libdqlite 1.11.1 gave.
//
//	ctl replay [-map 127.0.0.1:29001=127.0.0.1:PORT]... [-v] FILE...
//
// The comparison rules are written down in docs/interop.md; in short, a
// response is "identical", "allowed" (a difference the rules name: values
// that depend on history or batching, or a place where we follow
// protocol.md's recommendation instead of 1.11.1) or "differing". Prints one
// line per vector file, the details of every allowed and differing message,
// and a total; exits 1 if any message differs.
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const (
	reqLeader    = 0
	reqClient    = 1
	reqHeartbeat = 2
	reqOpen      = 3
	reqPrepare   = 4
	reqExec      = 5
	reqQuery     = 6
	reqFinalize  = 7
	reqExecSQL   = 8
	reqQuerySQL  = 9
	reqInterrupt = 10
	reqAssign    = 13
	reqDump      = 15
	reqCluster   = 16
	reqDescribe  = 18
	reqWeight    = 19

	resFailure = 0
	resServer  = 1
	resWelcome = 2
	resServers = 3
	resDB      = 4
	resStmt    = 5
	resResult  = 6
	resRows    = 7
	resEmpty   = 8
	resFiles   = 9
	resMeta    = 10
)

var reqNames = map[byte]string{0: "LEADER", 1: "CLIENT", 2: "HEARTBEAT", 3: "OPEN",
	4: "PREPARE", 5: "EXEC", 6: "QUERY", 7: "FINALIZE", 8: "EXEC_SQL", 9: "QUERY_SQL",
	10: "INTERRUPT", 11: "CONNECT", 12: "ADD", 13: "ASSIGN", 14: "REMOVE", 15: "DUMP",
	16: "CLUSTER", 17: "TRANSFER", 18: "DESCRIBE", 19: "WEIGHT"}
var resNames = map[byte]string{0: "FAILURE", 1: "SERVER", 2: "WELCOME", 3: "SERVERS",
	4: "DB", 5: "STMT", 6: "RESULT", 7: "ROWS", 8: "EMPTY", 9: "FILES", 10: "METADATA"}

func reqName(t byte) string {
	if n, ok := reqNames[t]; ok {
		return n
	}
	return fmt.Sprintf("type-%d", t)
}

func resName(t byte) string {
	if n, ok := resNames[t]; ok {
		return n
	}
	return fmt.Sprintf("type-%d", t)
}

// ------------------------------------------------------------ vector files

type kind int

const (
	kOpen kind = iota
	kSwitch
	kSend
	kRecv
	kCloseClient
	kCloseServer
)

type item struct {
	kind kind
	conn int
	addr string
	data []byte
	line int
}

func parseVector(path string, addrMap map[string]string) ([]item, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var items []item
	cur := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "@ conn "):
			fields := strings.Fields(l)
			c, err := strconv.Atoi(fields[2])
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %v", path, n, err)
			}
			cur = c
			rest := strings.Join(fields[3:], " ")
			switch {
			case rest == "":
				items = append(items, item{kind: kSwitch, conn: c, line: n})
			case strings.HasPrefix(rest, "open "):
				addr := fields[4]
				if m, ok := addrMap[addr]; ok {
					addr = m
				}
				items = append(items, item{kind: kOpen, conn: c, addr: addr, line: n})
			case rest == "closed by client":
				items = append(items, item{kind: kCloseClient, conn: c, line: n})
			case rest == "closed by server":
				items = append(items, item{kind: kCloseServer, conn: c, line: n})
			default:
				return nil, fmt.Errorf("%s:%d: unknown line %q", path, n, l)
			}
		case strings.HasPrefix(l, "C> "), strings.HasPrefix(l, "S< "):
			b, err := hex.DecodeString(strings.ReplaceAll(l[3:], " ", ""))
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %v", path, n, err)
			}
			for from, to := range addrMap {
				b = bytes.ReplaceAll(b, []byte(from), []byte(to))
			}
			k := kSend
			if l[0] == 'S' {
				k = kRecv
			}
			items = append(items, item{kind: k, conn: cur, data: b, line: n})
		}
	}
	return items, sc.Err()
}

// ------------------------------------------------------------ messages

type msg struct {
	typ    byte
	schema byte
	body   []byte
}

func decode(b []byte) msg {
	return msg{typ: b[4], schema: b[5], body: b[8:]}
}

func (m msg) u64(off int) uint64 {
	if off+8 > len(m.body) {
		return 0
	}
	return binary.LittleEndian.Uint64(m.body[off:])
}

// text at off and the offset after it.
func (m msg) text(off int) (string, int) {
	if off >= len(m.body) {
		return "", off
	}
	i := bytes.IndexByte(m.body[off:], 0)
	if i < 0 {
		return string(m.body[off:]), len(m.body)
	}
	return string(m.body[off : off+i]), off + (i+1+7)/8*8
}

func (m msg) String() string {
	switch m.typ {
	case resFailure:
		t, _ := m.text(8)
		return fmt.Sprintf("FAILURE %d %q", m.u64(0), t)
	case resResult:
		return fmt.Sprintf("RESULT %d,%d", m.u64(0), m.u64(8))
	case resStmt:
		return fmt.Sprintf("STMT id %d params %d", binary.LittleEndian.Uint32(m.body[4:]), m.u64(8))
	case resServer:
		if len(m.body) == 0 {
			return "SERVER"
		}
		if len(m.body) >= 8 && m.body[7] == 0 && m.body[0] != '1' {
			t, _ := m.text(8)
			return fmt.Sprintf("SERVER %d %q", m.u64(0), t)
		}
		t, _ := m.text(0)
		return fmt.Sprintf("SERVER %q", t)
	case resRows:
		return fmt.Sprintf("ROWS (%d words)", len(m.body)/8)
	}
	return fmt.Sprintf("%s (%d words)", resName(m.typ), len(m.body)/8)
}

func readMsg(c net.Conn, r *bufio.Reader, timeout time.Duration) (msg, error) {
	c.SetReadDeadline(time.Now().Add(timeout))
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return msg{}, err
	}
	words := binary.LittleEndian.Uint32(hdr[:4])
	if words > 1<<24 {
		return msg{}, fmt.Errorf("response of %d words", words)
	}
	body := make([]byte, 8*int(words))
	if _, err := io.ReadFull(r, body); err != nil {
		return msg{}, err
	}
	return msg{typ: hdr[4], schema: hdr[5], body: body}, nil
}

// rowsOf splits a ROWS body into its column header, rows and end marker.
// Header and rows are copies with every padding byte zeroed: padding is not
// part of the contract (protocol.md §2.2; 1.11.1 leaves stale bytes after
// blobs in rows).
func rowsOf(m msg) (header []byte, rows [][]byte, done bool, err error) {
	n := int(m.u64(0))
	if n == 0 || n > 4096 {
		return nil, nil, false, fmt.Errorf("ROWS with %d columns", n)
	}
	b := append([]byte(nil), m.body...)
	zeroText := func(off int) (int, error) {
		j := bytes.IndexByte(b[off:], 0)
		if j < 0 {
			return 0, errors.New("unterminated text")
		}
		end := off + (j+1+7)/8*8
		if end > len(b) {
			return 0, errors.New("text beyond body")
		}
		for k := off + j; k < end; k++ {
			b[k] = 0
		}
		return end, nil
	}
	off := 8
	for i := 0; i < n; i++ {
		if off, err = zeroText(off); err != nil {
			return nil, nil, false, err
		}
	}
	header = b[:off]
	for {
		if off+8 > len(b) {
			return nil, nil, false, errors.New("ROWS without end marker")
		}
		if off+8 == len(b) && (b[off] == 0xee || b[off] == 0xff) {
			return header, rows, b[off] == 0xff, nil
		}
		start := off
		hdrLen := ((n+1)/2 + 7) / 8 * 8
		if off+hdrLen > len(b) {
			return nil, nil, false, errors.New("row header beyond body")
		}
		types := b[off : off+hdrLen]
		if n%2 == 1 {
			types[n/2] &= 0x0f
		}
		for k := (n + 1) / 2; k < hdrLen; k++ {
			types[k] = 0
		}
		off += hdrLen
		for i := 0; i < n; i++ {
			t := types[i/2] >> (4 * (i % 2)) & 0xf
			switch t {
			case 1, 2, 9, 11:
				off += 8
			case 5:
				if off+8 <= len(b) {
					copy(b[off:off+8], make([]byte, 8))
				}
				off += 8
			case 3, 10:
				if off, err = zeroText(off); err != nil {
					return nil, nil, false, err
				}
			case 4:
				if off+8 > len(b) {
					return nil, nil, false, errors.New("short blob")
				}
				l := int(binary.LittleEndian.Uint64(b[off:]))
				end := off + 8 + (l+7)/8*8
				if end > len(b) || l < 0 {
					return nil, nil, false, errors.New("blob beyond body")
				}
				for k := off + 8 + l; k < end; k++ {
					b[k] = 0
				}
				off = end
			default:
				return nil, nil, false, fmt.Errorf("row type code %d", t)
			}
			if off > len(b) {
				return nil, nil, false, errors.New("row beyond body")
			}
		}
		rows = append(rows, b[start:off])
	}
}

// ------------------------------------------------------------ replay

type status int

const (
	same status = iota
	allowed
	differ
)

type request struct {
	typ  byte
	body []byte
	msg  msg
}

type conn struct {
	c         net.Conn
	r         *bufio.Reader
	sent      int // messages sent (the first is the handshake)
	legacy    bool
	queue     []request // requests not yet fully answered
	last      request   // last request sent
	stmtMap   map[uint32]uint32
	stmtArgs  map[uint32]uint64 // parameter count of each (vector) statement id
	pending   []msg             // actual messages read ahead
	openFail  bool              // OPEN was refused (not leader)
	closeAt   int               // item index after which a deferred client close happens
	stream    *stream
	closed    bool
	addr      string
	lastRecvI int
}

type stream struct {
	expHeader []byte
	expRows   [][]byte
	expSplit  []int
	lines     []int // item indexes of the expected ROWS messages
	last      int   // item index of the expected DONE message
	actRows   [][]byte
	actSplit  []int
	actDone   bool
	stopped   bool // an INTERRUPT ended it before DONE
	fail      string
}

type replayer struct {
	file        string
	items       []item
	conns       map[int]*conn
	verbose     bool
	counts      [3]int
	extra       [3]int
	notes       []string
	differLines []int
	readLimit   time.Duration
}

func (r *replayer) note(st status, it item, format string, args ...interface{}) {
	r.counts[st]++
	if st == differ {
		r.differLines = append(r.differLines, it.line)
	}
	if st == same && !r.verbose {
		return
	}
	label := [...]string{"identical", "allowed", "DIFFERS"}[st]
	r.notes = append(r.notes, fmt.Sprintf("  %s:%d %s: %s", filepath.Base(r.file), it.line,
		label, fmt.Sprintf(format, args...)))
}

func (r *replayer) noteExtra(st status, format string, args ...interface{}) {
	r.extra[st]++
	label := [...]string{"extra identical", "extra allowed", "extra DIFFERS"}[st]
	r.notes = append(r.notes, fmt.Sprintf("  %s %s: %s", filepath.Base(r.file), label,
		fmt.Sprintf(format, args...)))
}

func (r *replayer) next(c *conn) (msg, error) {
	if len(c.pending) > 0 {
		m := c.pending[0]
		c.pending = c.pending[1:]
		return m, nil
	}
	return readMsg(c.c, c.r, r.readLimit)
}

func (r *replayer) run() error {
	for i := 0; i < len(r.items); i++ {
		it := r.items[i]
		c := r.conns[it.conn]
		switch it.kind {
		case kOpen:
			nc, err := net.DialTimeout("tcp", it.addr, 5*time.Second)
			if err != nil {
				return fmt.Errorf("line %d: dial %s: %v", it.line, it.addr, err)
			}
			c = &conn{c: nc, r: bufio.NewReaderSize(nc, 1<<16), stmtMap: map[uint32]uint32{},
				stmtArgs: map[uint32]uint64{},
				closeAt:  -1, addr: it.addr}
			r.conns[it.conn] = c
			for j := i + 1; j < len(r.items); j++ {
				if r.items[j].conn == it.conn && r.items[j].kind == kRecv {
					c.lastRecvI = j
				}
			}
		case kSwitch:
		case kSend:
			if c == nil || c.closed {
				return fmt.Errorf("line %d: connection %d not open", it.line, it.conn)
			}
			data := append([]byte(nil), it.data...)
			if c.sent == 0 {
				c.legacy = binary.LittleEndian.Uint64(data) == 0x86104dd760433fe5
			} else {
				m := decode(data)
				switch m.typ {
				case reqExec, reqQuery, reqFinalize:
					if len(data) >= 16 {
						id := binary.LittleEndian.Uint32(data[12:])
						if to, ok := c.stmtMap[id]; ok {
							binary.LittleEndian.PutUint32(data[12:], to)
						}
					}
				}
				req := request{typ: m.typ, body: m.body, msg: m}
				c.queue = append(c.queue, req)
				c.last = req
			}
			c.sent++
			c.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.c.Write(data); err != nil {
				// A server that closes at once on a malformed request may
				// make this write fail; the close is checked below.
				if !errors.Is(err, io.ErrClosedPipe) {
					fmt.Fprintf(os.Stderr, "replay: line %d: write: %v\n", it.line, err)
				}
			}
		case kRecv:
			if c == nil {
				return fmt.Errorf("line %d: no connection %d", it.line, it.conn)
			}
			if err := r.recv(c, i); err != nil {
				return err
			}
			if c.closeAt == i {
				r.closeClient(c)
			}
		case kCloseClient:
			if c.lastRecvI > i {
				c.closeAt = c.lastRecvI
				continue
			}
			r.closeClient(c)
		case kCloseServer:
			r.closeServer(c, it)
		}
	}
	for _, c := range r.conns {
		if !c.closed {
			c.c.Close()
		}
	}
	return nil
}

// closeClient closes our side; a request the reference never answered
// (HEARTBEAT, unknown types: the client gave up) may get an answer from us,
// which the rules must allow.
func (r *replayer) closeClient(c *conn) {
	if len(c.queue) > 0 {
		for {
			m, err := readMsgShort(c)
			if err != nil {
				break
			}
			req := c.queue[0]
			c.queue = c.queue[1:]
			code := m.u64(0)
			known := req.typ <= reqWeight && req.typ != reqHeartbeat && req.typ != 11
			if m.typ == resFailure && code == 1005 && !known {
				r.noteExtra(allowed, "%s (reference: no answer) got %s: spec §5.3/§5.20 recommends FAILURE 1005",
					reqName(req.typ), m)
			} else {
				r.noteExtra(differ, "%s (reference: no answer) got %s", reqName(req.typ), m)
			}
			if len(c.queue) == 0 {
				break
			}
		}
	}
	c.c.Close()
	c.closed = true
}

func readMsgShort(c *conn) (msg, error) {
	if len(c.pending) > 0 {
		m := c.pending[0]
		c.pending = c.pending[1:]
		return m, nil
	}
	return readMsg(c.c, c.r, 1500*time.Millisecond)
}

// closeServer: the reference closed the connection (bad handshake), or
// crashed (the empty body of 31, the DESCRIBE of 32).
func (r *replayer) closeServer(c *conn, it item) {
	defer func() { c.c.Close(); c.closed = true }()
	m, err := readMsgShort(c)
	crashed := c.sent > 1 && (c.last.typ == reqDescribe || len(c.last.body) == 0)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			if crashed && c.last.typ == reqDescribe {
				// Spec §5.18: send only the FAILURE, keep the connection.
				probe := []byte{1, 0, 0, 0, reqDescribe, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
				c.c.Write(probe)
				pm, perr := readMsg(c.c, c.r, 5*time.Second)
				if perr == nil && pm.typ == resMeta {
					r.note(allowed, it, "reference aborted after DESCRIBE format 1; we keep the connection usable (spec §5.18: a later DESCRIBE 0 gets %s)", pm)
					return
				}
				r.note(differ, it, "after DESCRIBE format 1 the connection is not usable: %v %v", pm, perr)
				return
			}
			if crashed {
				r.note(differ, it, "reference aborted on an empty body; we neither closed nor answered (spec §2.1: close)")
				return
			}
			r.note(differ, it, "server did not close the connection")
			return
		}
		if crashed && c.last.typ == reqDescribe {
			r.note(differ, it, "connection closed after DESCRIBE format 1 (spec §5.18: keep it usable)")
			return
		}
		r.note(same, it, "closed by server")
		return
	}
	if crashed && len(c.last.body) == 0 && m.typ == resFailure {
		r.note(allowed, it, "empty request body: %s instead of a close (spec §2.1/§7.2: FAILURE acceptable)", m)
		return
	}
	r.note(differ, it, "server sent %s instead of closing", m)
}

func (r *replayer) recv(c *conn, i int) error {
	it := r.items[i]
	exp := decode(it.data)
	if len(c.queue) == 0 {
		return fmt.Errorf("line %d: response without request", it.line)
	}
	req := c.queue[0]
	if exp.typ == resRows && (req.typ == reqQuery || req.typ == reqQuerySQL) {
		return r.recvRows(c, i, req)
	}
	c.queue = c.queue[1:]
	act, err := r.next(c)
	if err != nil {
		r.note(differ, it, "%s: want %s, got error %v", reqName(req.typ), exp, err)
		return fmt.Errorf("line %d: connection lost: %v", it.line, err)
	}
	st, why := compare(c, req, exp, act)
	r.note(st, it, "%s: want %s, got %s%s", reqName(req.typ), exp, act, why)
	if st != differ && act.typ == resFailure && req.typ == reqOpen {
		c.openFail = true
	}
	if exp.typ == resStmt {
		e := binary.LittleEndian.Uint32(exp.body[4:])
		c.stmtArgs[e] = exp.u64(8)
		if act.typ == resStmt {
			c.stmtMap[e] = binary.LittleEndian.Uint32(act.body[4:])
		}
	}
	if st == allowed {
		return r.compensate(c, req, exp, act)
	}
	return nil
}

// compensate: where an allowed difference left the node in another state
// than the reference (it ran statements 1.11.1 refused, or refused a
// statement 1.11.1 prepared), bring it back so that the rest of the vectors
// replays on the reference's history. Out of band: not counted.
func (r *replayer) compensate(c *conn, req request, exp, act msg) error {
	var undo []byte
	switch {
	case req.typ == reqExecSQL && exp.typ == resFailure && act.typ == resResult:
		// Vector 08: the two inserts ran (parameters distributed).
		if sqlOf(req) != "INSERT INTO m VALUES (?); INSERT INTO m VALUES (?)" {
			return fmt.Errorf("no compensation known for %q", sqlOf(req))
		}
		undo = encodeSQL(reqExecSQL, "DELETE FROM m WHERE x IN (10, 20)")
	case req.typ == reqPrepare && exp.typ == resStmt && act.typ == resFailure &&
		strings.Contains(act.String(), "nonempty statement tail"):
		// Vector 15: prepare the first statement alone.
		sql, _ := req.msg.text(8)
		if i := strings.IndexByte(sql, ';'); i > 0 {
			sql = sql[:i]
		}
		undo = encodeSQL(reqPrepare, sql)
	default:
		return nil
	}
	c.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.c.Write(undo); err != nil {
		return err
	}
	m, err := r.next(c)
	if err != nil {
		return err
	}
	switch {
	case m.typ == resStmt:
		c.stmtMap[binary.LittleEndian.Uint32(exp.body[4:])] = binary.LittleEndian.Uint32(m.body[4:])
	case m.typ != resResult:
		return fmt.Errorf("compensation failed: %s", m)
	}
	r.notes = append(r.notes, fmt.Sprintf("  %s: replayer compensated (out of band, answered %s)",
		filepath.Base(r.file), m))
	return nil
}

func encodeSQL(typ byte, sql string) []byte {
	body := make([]byte, 8, 64)
	body = append(body, sql...)
	body = append(body, 0)
	for len(body)%8 != 0 {
		body = append(body, 0)
	}
	hdr := make([]byte, 8)
	binary.LittleEndian.PutUint32(hdr, uint32(len(body)/8))
	hdr[4] = typ
	return append(hdr, body...)
}

// recvRows handles every expected ROWS message of one result set at its
// first one: the rows are compared as a whole, batch boundaries aside.
func (r *replayer) recvRows(c *conn, i int, req request) error {
	it := r.items[i]
	if c.stream != nil {
		s := c.stream
		if i != s.last {
			return nil // counted with the stream's last message
		}
		return r.finishStream(c, s, i)
	}
	s := &stream{}
	interrupted := false
	for j := i; j < len(r.items); j++ {
		o := r.items[j]
		if o.conn != it.conn {
			continue
		}
		if o.kind == kSend && decode(o.data).typ == reqInterrupt {
			interrupted = true
			continue
		}
		if o.kind != kRecv {
			break
		}
		m := decode(o.data)
		if m.typ != resRows {
			break
		}
		h, rows, done, err := rowsOf(m)
		if err != nil {
			return fmt.Errorf("line %d: vector: %v", o.line, err)
		}
		s.expHeader = h
		s.expRows = append(s.expRows, rows...)
		s.expSplit = append(s.expSplit, len(rows))
		s.lines = append(s.lines, j)
		s.last = j
		if done {
			break
		}
	}
	for _, q := range c.queue[1:] {
		if q.typ == reqInterrupt {
			interrupted = true // pipelined right after the query (vector 19)
		}
	}
	c.stream = s
	// Read the first batch now; without an INTERRUPT, the whole stream.
	for {
		act, err := r.next(c)
		if err != nil {
			s.fail = fmt.Sprintf("error %v", err)
			break
		}
		if act.typ != resRows {
			if act.typ == resEmpty && interrupted && len(s.actSplit) > 0 {
				s.stopped = true
				c.pending = append(c.pending, act)
			} else {
				s.fail = act.String()
			}
			break
		}
		h, rows, done, err := rowsOf(act)
		if err != nil {
			s.fail = err.Error()
			break
		}
		if !bytes.Equal(h, s.expHeader) {
			s.fail = "different column header"
			break
		}
		s.actRows = append(s.actRows, rows...)
		s.actSplit = append(s.actSplit, len(rows))
		if done {
			s.actDone = true
			break
		}
		if interrupted && len(s.actRows) >= s.expSplit[0] {
			break
		}
	}
	if i == s.last || s.fail != "" {
		return r.finishStream(c, s, i)
	}
	return nil
}

func (r *replayer) finishStream(c *conn, s *stream, i int) error {
	it := r.items[i]
	// Read the rest of the stream: up to DONE, or an EMPTY that answers the
	// INTERRUPT early (spec §6.4 allows stopping between batches).
	for s.fail == "" && !s.actDone && !s.stopped {
		act, err := r.next(c)
		if err != nil {
			s.fail = fmt.Sprintf("error %v", err)
			break
		}
		if act.typ == resEmpty {
			s.stopped = true
			c.pending = append(c.pending, act)
			break
		}
		if act.typ != resRows {
			s.fail = act.String()
			break
		}
		h, rows, done, err := rowsOf(act)
		if err != nil {
			s.fail = err.Error()
			break
		}
		if !bytes.Equal(h, s.expHeader) {
			s.fail = "different column header"
			break
		}
		s.actRows = append(s.actRows, rows...)
		s.actSplit = append(s.actSplit, len(rows))
		s.actDone = done
	}
	c.stream = nil
	req := c.queue[0]
	c.queue = c.queue[1:]
	n := len(s.lines)
	first := r.items[s.lines[0]]
	st, why := same, ""
	prefix := len(s.actRows) <= len(s.expRows)
	for k := 0; prefix && k < len(s.actRows); k++ {
		prefix = bytes.Equal(s.actRows[k], s.expRows[k])
	}
	fewer := false
	if req.typ == reqQuery && len(req.body) >= 8 {
		id := binary.LittleEndian.Uint32(req.body[4:])
		nargs := uint64(0)
		if len(req.body) > 8 {
			nargs = uint64(req.body[8])
		}
		fewer = nargs < c.stmtArgs[id]
	}
	switch {
	case s.fail == `FAILURE 1 "nonempty statement tail"` && req.typ == reqQuerySQL &&
		strings.Contains(strings.TrimRight(strings.TrimSpace(sqlOf(req)), ";"), ";"):
		st, why = allowed, "got "+s.fail+" (a second statement in QUERY_SQL: rejected as §5.10 recommends)"
	case s.fail != "":
		st, why = differ, "got "+s.fail
	case !prefix && fewer && len(s.actRows) == len(s.expRows) && s.actDone:
		st, why = allowed, "rows differ: fewer parameters than placeholders, the rest are NULL as §4.2 recommends (1.11.1 kept the previous bindings)"
	case !prefix:
		st, why = differ, fmt.Sprintf("rows differ (%d rows want %d)", len(s.actRows), len(s.expRows))
	case s.stopped && len(s.actRows) < len(s.expRows):
		st, why = allowed, fmt.Sprintf("INTERRUPT stopped the stream after %d of %d rows (spec §6.4)",
			len(s.actRows), len(s.expRows))
	case len(s.actRows) != len(s.expRows):
		st, why = differ, fmt.Sprintf("%d rows, want %d", len(s.actRows), len(s.expRows))
	case fmt.Sprint(s.actSplit) != fmt.Sprint(s.expSplit):
		st, why = allowed, fmt.Sprintf("same rows, batches of %v rows instead of %v (spec §6.3)",
			s.actSplit, s.expSplit)
	}
	r.note(st, first, "%s: %d ROWS message(s), %d rows: %s", reqName(req.typ), n,
		len(s.expRows), map[bool]string{true: "same", false: why}[why == ""])
	for k := 1; k < n; k++ {
		r.counts[st]++
	}
	_ = it
	return nil
}

// ------------------------------------------------------------ the rules

func sqlOf(req request) string {
	if req.typ != reqExecSQL && req.typ != reqQuerySQL {
		return ""
	}
	s, _ := req.msg.text(8)
	return s
}

// tailAfterLastStatement: the text after the last ';' holds only spaces,
// newlines or comments (or the SQL is empty).
func trailingTail(sql string) bool {
	t := strings.TrimSpace(sql)
	if t == "" {
		return true
	}
	i := strings.LastIndex(sql, ";")
	return i >= 0 && i < len(sql)-1 && strings.TrimSpace(sql[i+1:]) == ""
}

func compare(c *conn, req request, exp, act msg) (status, string) {
	if exp.typ == act.typ && bytes.Equal(exp.body, act.body) {
		return same, ""
	}
	efail := exp.typ == resFailure
	afail := act.typ == resFailure
	ecode, acode := exp.u64(0), act.u64(0)
	amsg, _ := act.text(8)
	switch {
	case efail && ecode == 25 && act.typ == resResult && req.typ == reqExecSQL &&
		strings.Count(strings.TrimRight(strings.TrimSpace(sqlOf(req)), ";"), ";") > 0:
		return allowed, " (parameters of several statements: distributed as §5.9 recommends)"
	case exp.typ == resStmt && afail && acode == 1 && amsg == "nonempty statement tail" &&
		req.typ == reqPrepare:
		return allowed, " (PREPARE schema 0 of several statements: refused as by the newer reference, §5.5)"
	case exp.typ == resWelcome && act.typ == resWelcome:
		return allowed, " (heartbeat timeout value: go-dqlite ignores it, §5.2)"
	case exp.typ == resStmt && act.typ == resStmt && len(exp.body) == len(act.body) &&
		exp.u64(8) == act.u64(8) && bytes.Equal(exp.body[:4], act.body[:4]):
		return allowed, " (statement id: opaque to clients, §5.5)"
	case exp.typ == resResult && act.typ == resResult && req.typ == reqExecSQL &&
		exp.u64(0) == 0 && exp.u64(8) == 0 && trailingTail(sqlOf(req)):
		return allowed, " (1.11.1 reports 0,0 after a trailing tail or empty SQL; §5.9 recommends the real values)"
	case exp.typ == resFiles && act.typ == resFiles:
		return compareDump(exp, act)
	case exp.typ == resFiles && afail && acode == 1002 && req.typ == reqDump:
		if f, _ := dumpFiles(exp); len(f) == 2 && len(f[0].data) == 0 && len(f[1].data) == 0 {
			return allowed, " (unknown database: FAILURE 1002 as the newer reference, §5.15)"
		}
	case exp.typ == resServers && afail && acode == 1005 && req.typ == reqCluster &&
		req.msg.u64(0) > 1:
		return allowed, " (CLUSTER format > 1: FAILURE 1005 as the newer reference, §5.16)"
	case exp.typ == resDB && afail && acode == 10250 && req.typ == reqOpen:
		return allowed, " (OPEN on a follower: 10250 as the newer reference, §5.4)"
	case exp.typ == resStmt && afail && req.typ == reqPrepare &&
		(acode == 10250 || (acode == 12 && c.openFail)):
		return allowed, " (PREPARE on a follower: refused as by the newer reference, §5.5)"
	case efail && afail && ecode == 10250 && acode == 12 && c.openFail:
		return allowed, " (OPEN was refused on this follower, so: no database, §5.4, §7.3)"
	case efail && afail && ecode == 100 && acode == 1 &&
		(req.typ == reqExec || req.typ == reqExecSQL):
		return allowed, " (EXEC of a row-producing statement: code 1 as §5.6 recommends)"
	case efail && afail && ecode == 1005 && (acode == 1005 || (acode == 1 && amsg == "bind parameters")) &&
		(req.typ == reqQuerySQL || req.typ == reqExecSQL || req.typ == reqQuery || req.typ == reqExec):
		return allowed, " (bad parameter type: 1.11.1's message is a stale errmsg, §4.1, §7.2)"
	case efail && afail && ecode == 1 && acode == 1 && (req.typ == reqQuery || req.typ == reqQuerySQL):
		e, _ := exp.text(8)
		if e == "not an error" {
			return allowed, " (zero-column query: FAILURE 1 as §5.7 recommends; 1.11.1's message is a stale errmsg)"
		}
	case efail && afail && ecode == 1 && acode == 1 && req.typ == reqAssign:
		e, _ := exp.text(8)
		if e == "unknown error" {
			return allowed, " (ASSIGN of an unknown id: 1.11.1's message is a placeholder, §5.13)"
		}
	}
	return differ, ""
}

type dumpFile struct {
	name string
	data []byte
}

func dumpFiles(m msg) ([]dumpFile, error) {
	n := int(m.u64(0))
	off := 8
	var files []dumpFile
	for k := 0; k < n; k++ {
		name, o := m.text(off)
		size := int(m.u64(o))
		o += 8
		if o+size > len(m.body) {
			return nil, errors.New("file beyond body")
		}
		files = append(files, dumpFile{name, m.body[o : o+size]})
		off = o + (size+7)/8*8
	}
	return files, nil
}

// compareDump: the same file names, and the same database once the two
// files are put side by side (page contents, WAL size and checkpoints
// depend on history): sqlite3's .dump of both must be equal.
func compareDump(exp, act msg) (status, string) {
	ef, err1 := dumpFiles(exp)
	af, err2 := dumpFiles(act)
	if err1 != nil || err2 != nil || len(ef) != len(af) {
		return differ, fmt.Sprintf(" (malformed FILES: %v %v)", err1, err2)
	}
	for k := range ef {
		if ef[k].name != af[k].name {
			return differ, fmt.Sprintf(" (file %q, want %q)", af[k].name, ef[k].name)
		}
	}
	if len(ef[0].data) == 0 {
		return differ, " (files differ)"
	}
	dumps := [2]string{}
	for k, files := range [][]dumpFile{ef, af} {
		dir, err := os.MkdirTemp("", "replay-dump")
		if err != nil {
			return differ, " (" + err.Error() + ")"
		}
		defer os.RemoveAll(dir)
		for _, f := range files {
			os.WriteFile(filepath.Join(dir, f.name), f.data, 0o600)
		}
		out, err := exec.Command("sqlite3", "-readonly", filepath.Join(dir, files[0].name),
			"PRAGMA integrity_check;", ".dump").CombinedOutput()
		if err != nil {
			return differ, fmt.Sprintf(" (sqlite3: %v: %s)", err, out)
		}
		dumps[k] = string(out)
	}
	if dumps[0] != dumps[1] {
		return differ, " (the databases differ: sqlite3 .dump)"
	}
	sizes := func(fs []dumpFile) string {
		return fmt.Sprintf("%d+%d bytes", len(fs[0].data), len(fs[1].data))
	}
	return allowed, fmt.Sprintf(" (same database by sqlite3 .dump; file bytes are history: %s vs %s)",
		sizes(af), sizes(ef))
}

// ------------------------------------------------------------ main

type mapFlag map[string]string

func (m mapFlag) String() string { return fmt.Sprint(map[string]string(m)) }
func (m mapFlag) Set(v string) error {
	i := strings.IndexByte(v, '=')
	if i < 0 || len(v[:i]) != len(v[i+1:]) {
		return fmt.Errorf("-map FROM=TO with addresses of the same length")
	}
	m[v[:i]] = v[i+1:]
	return nil
}

func replayMain(args []string) int {
	fs := flag.NewFlagSet("replay", flag.ExitOnError)
	addrMap := mapFlag{}
	fs.Var(addrMap, "map", "FROM=TO: replace an address of the vectors (same length)")
	verbose := fs.Bool("v", false, "print identical messages too")
	knownList := fs.String("known", "", "comma-separated NAME or NAME:LINE: differences "+
		"there come from known node bugs; reported, not failing")
	fs.Parse(args)
	var total [3]int
	var extra [3]int
	known := map[string]bool{}
	for _, k := range strings.Split(*knownList, ",") {
		if k != "" {
			known[k] = true
		}
	}
	bad, knownBad := 0, 0
	for _, path := range fs.Args() {
		items, err := parseVector(path, addrMap)
		if err != nil {
			fmt.Fprintf(os.Stderr, "replay: %v\n", err)
			return 2
		}
		r := &replayer{file: path, items: items, conns: map[int]*conn{}, verbose: *verbose,
			readLimit: 20 * time.Second}
		start := time.Now()
		err = r.run()
		name := strings.TrimSuffix(filepath.Base(path), ".txt")
		result := "pass"
		if err != nil || r.counts[differ] > 0 || r.extra[differ] > 0 {
			result = "fail"
			// Known only if the whole file, or every differing line, is.
			isKnown := known[name]
			if !isKnown && err == nil && r.extra[differ] == 0 {
				isKnown = true
				for _, l := range r.differLines {
					isKnown = isKnown && known[fmt.Sprintf("%s:%d", name, l)]
				}
			}
			if isKnown {
				result = "known-bug"
				knownBad++
			} else {
				bad++
			}
		}
		fmt.Printf("vector %s %s: %d messages: %d identical, %d allowed, %d differing",
			name, result, r.counts[0]+r.counts[1]+r.counts[2], r.counts[same], r.counts[allowed],
			r.counts[differ])
		if r.extra[0]+r.extra[1]+r.extra[2] > 0 {
			fmt.Printf("; %d extra response(s) (%d allowed)", r.extra[0]+r.extra[1]+r.extra[2],
				r.extra[allowed])
		}
		fmt.Printf(" (%.1f s)\n", time.Since(start).Seconds())
		for _, n := range r.notes {
			fmt.Println(n)
		}
		if err != nil {
			fmt.Printf("  %s: replay stopped: %v\n", name, err)
		}
		for k := 0; k < 3; k++ {
			total[k] += r.counts[k]
			extra[k] += r.extra[k]
		}
	}
	fmt.Printf("replay: %d files, %d messages compared: %d identical, %d allowed, %d differing; %d extra responses (%d allowed, %d differing); %d file(s) failing, %d with known node bugs\n",
		len(fs.Args()), total[0]+total[1]+total[2], total[same], total[allowed], total[differ],
		extra[0]+extra[1]+extra[2], extra[allowed], extra[differ], bad, knownBad)
	if bad > 0 {
		return 1
	}
	return 0
}
