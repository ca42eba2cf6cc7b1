# halfclose.py PORT REQUEST_FILE...: one concurrent connection per file; each sends its
# file's bytes with TCP_CORK and half-closes (the bytes and the end of input arrive in
# one segment), then reads to the end. Prints each outcome with its count:
# "<count> <statuses> <closed|open|reset>" (statuses of the answers in order, or "none").
# --no-half-close first: send without the half-close and give the server 5 s, not 10, to
# answer and close (what "at once" means where pinpipe.http_timeout is longer).
import socket, sys, threading, collections
half = sys.argv[1] != '--no-half-close'
args = sys.argv[1:] if half else sys.argv[2:]
port, files = int(args[0]), args[1:]
out = []
def one(path):
    data = open(path, 'rb').read()
    s = socket.create_connection(('127.0.0.1', port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    s.sendall(data)
    if half:
        s.shutdown(socket.SHUT_WR)
    s.settimeout(10.0 if half else 5.0)
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
