"""A datagram socket standing in for systemd's notify socket: every sd_notify message is
appended to a file, one line each (newlines inside a message become spaces).
Usage: notify_listen.py SOCKET LOGFILE (runs until killed)."""
import socket
import sys

s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as f:
    while True:
        f.write(s.recv(4096).decode().replace("\n", " ") + "\n")
        f.flush()
