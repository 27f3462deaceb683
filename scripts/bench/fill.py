#!/usr/bin/env python3
"""Loads keys /<start>..<start+count-1> into a kvd, value = the decimal number, over one pipelined
connection (batches of 1000 requests per write). Checks every response is a 200.
Usage: fill.py HOST:PORT COUNT [START]"""
import socket
import sys


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    count = int(sys.argv[2])
    start = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    s = socket.create_connection((host, int(port)))
    s.settimeout(30)
    host_header = sys.argv[1].encode()  # HTTP/1.1 requests need one
    buf = b""
    batch = 1000
    done = 0
    for base in range(start, start + count, batch):
        n = min(batch, start + count - base)
        reqs = []
        for i in range(base, base + n):
            v = str(i).encode()
            reqs.append(b"POST /%d HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n%s" % (i, host_header, len(v), v))
        s.sendall(b"".join(reqs))
        got = 0
        while got < n:
            # Each response ends with its echoed value; count status lines.
            data = s.recv(1 << 20)
            if not data:
                sys.exit("server closed the connection")
            buf += data
            while True:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    break
                head = buf[:end].decode()
                if not head.startswith("HTTP/1.1 200"):
                    sys.exit("unexpected response: " + head.splitlines()[0])
                length = int([l for l in head.split("\r\n") if l.lower().startswith("content-length:")][0].split(":")[1])
                if len(buf) < end + 4 + length:
                    break
                buf = buf[end + 4 + length:]
                got += 1
        done += n
    s.close()
    print(done)


if __name__ == "__main__":
    main()
