# halfclose.py PORT REQUEST_FILE...: one concurrent connection per file; each sends its
# file's bytes with TCP_CORK and half-closes (the bytes and the end of input arrive in
# one segment), then reads to the end. Prints each outcome with its count:
# "<count> <statuses> <closed|open|reset>" (statuses of the answers in order, or "none").
import socket, sys, threading, collections
port, files = int(sys.argv[1]), sys.argv[2:]
out = []
def one(path):
    data = open(path, 'rb').read()
    s = socket.create_connection(('127.0.0.1', port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    s.settimeout(10.0)
    got, end = b'', 'open'
    try:
        while True:
            b = s.recv(65536)
            if not b:
                end = 'closed'
                break
            got += b
    except socket.timeout:
        pass
    except ConnectionResetError:
        end = 'reset'
    # the status of every answer (pipelined requests get several)
    status = ' '.join(a.split(b' ')[0].decode() for a in got.split(b'HTTP/1.1 ')[1:]) or 'none'
    out.append('%s %s' % (status, end))
ts = [threading.Thread(target=one, args=(f,)) for f in files]
for t in ts: t.start()
for t in ts: t.join()
for k, v in sorted(collections.Counter(out).items()):
    print(v, k)
