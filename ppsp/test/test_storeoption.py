"""
C{twistd ppsp-tracker --store}: the options that choose the tracker's
store (the memory store, or a Redis store that several trackers share),
and the service C{makeService} builds around a Redis store, run against a
real C{redis-server} (L{ppsp.test.redisserver}).
"""

from __future__ import annotations

import io
import os
import socket
import sys
from typing import Any, Sequence, TypeVar

from twisted.internet.defer import CancelledError, Deferred, inlineCallbacks
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import capturedLogs, formatEvent
from twisted.python import usage
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface.verify import verifyObject

from ppsp.interfaces import IPeerStore
from ppsp.messages import ConnectRequest, ConnectResponse, ErrorResponse, ResponseCode
from ppsp.test.certs import TestCA
from ppsp.test.doccommands import freePort
from ppsp.test.redisserver import startRedis, testReactor
from ppsp.tracker.core import Origin
from ppsp.tracker.redisstore import RedisPeerStore, parseRedisURL
from ppsp.tracker.store import MemoryPeerStore
from ppsp.tracker.tap import Options, makeService

T = TypeVar("T")

#: The password of the servers that ask for one.
PASSWORD = "hunter2-s3cret"


def parse(*argv: str) -> Options:
    """
    The tracker's options from C{argv}, on a loopback port of the
    system's choice.
    """
    options = Options()
    options.parseOptions(["--listen", "tcp:0:interface=127.0.0.1", *argv])
    return options


class StoreOptionTests(SynchronousTestCase):
    """
    C{--store}, C{--store-prefix} and C{--store-password-file}: what they
    accept, and the usage errors (exit 64 under twistd) they give.
    """

    def refused(self, *argv: str) -> str:
        """
        C{argv} is a usage error; its message, which never holds
        L{PASSWORD}.
        """
        with self.assertRaises(usage.UsageError) as raised:
            parse(*argv)
        message = str(raised.exception)
        self.assertNotIn(PASSWORD, message)
        return message

    def passwordFile(self, content: str) -> str:
        path: FilePath[str] = FilePath(self.mktemp())
        path.setContent(content.encode("utf-8"))
        return path.path

    def test_memoryByDefault(self) -> None:
        """
        Without C{--store} the tracker keeps its state in a memory store of
        its own, and the start-up settings say so.
        """
        options = parse()
        self.assertEqual((options["store"], options["store-prefix"]), ("memory", "ppsp:"))
        self.assertEqual((options["storeOption"].isRedis, options["storeOption"].shown), (False, "memory"))
        service: Any = makeService(options, MemoryReactorClock())
        self.assertIsInstance(service.tracker.store, MemoryPeerStore)

    def test_redisURLs(self) -> None:
        """
        Each form of Redis URL is taken, and C{makeService} builds a
        tracker on a Redis store for it (connecting only once started);
        the settings show the URL with its port and database, its user, and
        its password masked; neither they nor the option's C{repr} show the
        password.
        """
        authorities = FilePath(self.mktemp())
        authorities.makedirs()
        cases = [
            (f"redis://:{PASSWORD}@127.0.0.1/0", "redis://:***@127.0.0.1:6379/0"),
            (f"redis://ops:{PASSWORD}@cache.example:6380/2", "redis://ops:***@cache.example:6380/2"),
            ("redis://[::1]:6390", "redis://[::1]:6390/0"),
            (f"rediss://cache.example/1?ssl_ca_path={authorities.path}", "rediss://cache.example:6379/1"),
            ("rediss://[::1]:6390", "rediss://[::1]:6390/0"),
            ("redis+unix:///run/redis/redis.sock?db=3", "redis+unix:///run/redis/redis.sock?db=3"),
        ]
        for url, shown in cases:
            options = parse("--store", url)
            option = options["storeOption"]
            self.assertEqual((option.isRedis, option.shown), (True, shown), url)
            self.assertNotIn(PASSWORD, repr(option))
            reactor = MemoryReactorClock()
            service: Any = makeService(options, reactor)
            self.assertIsInstance(service.tracker.store, RedisPeerStore)
            self.assertEqual(reactor.tcpClients, [])

    def test_refused(self) -> None:
        """
        An unknown scheme, a Redis URL that cannot be read (a database that
        is not a number, no host, a query parameter the scheme does not
        take, a TLS file that cannot be read) is a usage error that says
        why, without the password.
        """
        cases = [
            (f"memcached://:{PASSWORD}@cache.example/", "give memory or a Redis URL"),
            ("memory:", "give memory or a Redis URL"),
            (f"redis://:{PASSWORD}@cache.example/zero", "not a database number"),
            ("redis:///0", "no host in the Redis URL"),
            ("redis://cache.example/0?ssl=true", "has a query parameter that redis:// does not take: ssl"),
            ("redis+unix://relative.sock", "not an absolute socket path"),
            ("rediss://cache.example/0?ssl_certfile=/nonexistent/client.pem", "No such file or directory"),
        ]
        for url, reason in cases:
            self.assertIn(reason, self.refused("--store", url), url)

    def test_withState(self) -> None:
        """
        C{--state} with a Redis store is a usage error: the state lives in
        Redis.
        """
        message = self.refused("--store", "redis://127.0.0.1/0", "--state", self.mktemp())
        self.assertIn("the state lives in Redis", message)

    def test_withoutExtra(self) -> None:
        """
        A Redis URL without the C{redis} extra installed (here, txredisapi
        cannot be imported) is a usage error that names the extra.
        """
        self.patch(sys, "modules", {**sys.modules, "txredisapi": None})
        message = self.refused("--store", "redis://127.0.0.1/0")
        self.assertIn("needs the redis extra of ppsp (pip install 'ppsp[redis]')", message)
        # The memory store needs nothing.
        self.assertFalse(parse()["storeOption"].isRedis)

    def test_passwordFile(self) -> None:
        """
        The password file's first line is the password, kept out of the
        settings and of C{repr}; a file that cannot be read, an empty one, a
        password in the URL as well, or a password file with the memory
        store is a usage error.
        """
        path = self.passwordFile(PASSWORD + "\nignored\n")
        option = parse("--store", "redis://127.0.0.1/0", "--store-password-file", path)["storeOption"]
        self.assertEqual((option.password, option.shown), (PASSWORD, "redis://:***@127.0.0.1:6379/0"))
        self.assertNotIn(PASSWORD, repr(option))
        missing = self.mktemp()
        self.assertIn(
            f"cannot read {missing!r}",
            self.refused("--store", "redis://127.0.0.1/0", "--store-password-file", missing),
        )
        self.assertIn(
            "holds no password",
            self.refused("--store", "redis://127.0.0.1/0", "--store-password-file", self.passwordFile("\n")),
        )
        self.assertIn(
            "give it in one place only",
            self.refused("--store", f"redis://:{PASSWORD}@127.0.0.1/0", "--store-password-file", path),
        )
        self.assertIn("give --store redis://", self.refused("--store-password-file", path))

    def test_exitStatus(self) -> None:
        """
        Under twistd, a C{--store} the option cannot use prints the error
        and exits 64.
        """
        from twisted.scripts.twistd import ServerOptions

        stderr = io.StringIO()
        self.patch(sys, "stderr", stderr)
        with self.assertRaises(SystemExit) as raised:
            ServerOptions().parseOptions(["ppsp-tracker", "--store", "mysql://db.example/"])
        self.assertEqual(raised.exception.code, os.EX_USAGE)
        self.assertIn("Error: --store 'mysql://db.example/': give memory or a Redis URL", stderr.getvalue())


class TLSURLTests(SynchronousTestCase):
    """
    C{rediss://} URLs: Twisted's C{tls:} client endpoint, with the query
    parameters of the trust roots and of a client certificate.
    """

    def test_endpoint(self) -> None:
        """
        C{rediss://} gives a C{tls:} endpoint around the TCP connection of
        C{redis://}, that checks the server's
        certificate against the URL's host, with the system's trust roots
        unless C{ssl_ca_path} names a directory, and a client certificate
        and key from C{ssl_certfile} and C{ssl_keyfile}.
        """
        self.assertEqual(
            parseRedisURL("rediss://cache.example").endpoint,
            "tls:host=cache.example:port=6379:endpoint=tcp\\:host=cache.example\\:port=6379",
        )
        address = parseRedisURL(
            "rediss://:pw@cache.example:6380/4?ssl_ca_path=/etc/ca:dir"
            "&ssl_certfile=/etc/c.pem&ssl_keyfile=/etc/k.pem"
        )
        self.assertEqual(
            (address.endpoint, address.db, address.password, address.display),
            (
                "tls:host=cache.example:port=6380:trustRoots=/etc/ca\\:dir"
                ":certificate=/etc/c.pem:privateKey=/etc/k.pem"
                ":endpoint=tcp\\:host=cache.example\\:port=6380",
                4,
                "pw",
                "rediss://cache.example:6380/4",
            ),
        )

    def test_unknownParameter(self) -> None:
        """
        A query parameter that the scheme does not take is refused, not
        ignored: C{redis://} takes none, C{redis+unix://} only C{db}.
        """
        for url in ("rediss://h/0?ssl_ca_certs=/ca.pem", "redis://h/0?db=2", "redis+unix:///s?ssl_ca_path=/d"):
            self.assertRaises(ValueError, parseRedisURL, url)


class RedisServiceTests(SynchronousTestCase):
    """
    The service C{makeService} builds for C{--store redis://...}, on a real
    server that asks for a password, through the Redis tests' reactor.
    """

    def setUp(self) -> None:
        self.reactor = testReactor()
        self.addCleanup(lambda: self.assertEqual(self.reactor.clean(), []))
        self.server = startRedis(self, ["--requirepass", PASSWORD])
        self.url = f"redis://:{PASSWORD}@127.0.0.1:{self.server.port}/0"

    def wait(self, d: "Deferred[T]") -> T:
        self.reactor.runUntil(d)
        return self.successResultOf(d)

    def start(self, *argv: str) -> Any:
        """
        Build and start the tracker service of C{argv}; stopped when the
        test ends, unless the test stopped it.
        """
        service: Any = makeService(parse(*argv), self.reactor)
        service.startService()
        self.addCleanup(lambda: self.wait(service.stopService()) if service.running else None)
        return service

    def connect(self, service: Any, peerID: str) -> Any:
        """
        The answer to a CONNECT from C{peerID}, through the service's
        tracker.
        """
        return self.wait(service.tracker.handle(ConnectRequest("t-" + peerID, peerID), Origin("192.0.2.1", 1)))

    def assertNeverShown(self, events: Sequence[Any]) -> None:
        """
        No log event holds the password, in its text or in a field.
        """
        for event in events:
            self.assertNotIn(PASSWORD, formatEvent(event))
            self.assertNotIn(PASSWORD, repr(event))

    def test_redisStore(self) -> None:
        """
        The tracker keeps its state in Redis under C{--store-prefix}; the
        start-up line names the store with its password masked; the health
        check reflects Redis; stopping the service closes the connection
        (the store is then unreachable, and the reactor is left clean).
        """
        with capturedLogs() as events:
            service = self.start("--store", self.url, "--store-prefix", "one:")
            store = service.tracker.store
            self.assertIsInstance(store, RedisPeerStore)
            verifyObject(IPeerStore, store)
            self.assertIsInstance(self.connect(service, "peer-1"), ConnectResponse)
            self.assertEqual(self.wait(store.client.execute("EXISTS", "one:p:peer-1")), 1)
            self.assertIs(self.wait(service.tracker.storeReachable()), True)
            self.wait(service.stopService())
        [line] = [formatEvent(e) for e in events if "PPSP tracker listening on" in formatEvent(e)]
        self.assertIn(f"store=redis://:***@127.0.0.1:{self.server.port}/0, store-prefix=one:", line)
        self.assertNeverShown(events)
        self.assertIs(self.wait(service.tracker.storeReachable()), False)

    def test_passwordFile(self) -> None:
        """
        A password from C{--store-password-file} logs the tracker in; no
        log line shows it.
        """
        path = FilePath(self.mktemp())
        path.setContent(PASSWORD.encode("ascii") + b"\n")
        with capturedLogs() as events:
            service = self.start(
                "--store", f"redis://127.0.0.1:{self.server.port}/0", "--store-password-file", path.path
            )
            self.assertIsInstance(self.connect(service, "peer-1"), ConnectResponse)
        self.assertNeverShown(events)

    def test_sharedState(self) -> None:
        """
        Two trackers on one server and one prefix share their sessions; a
        tracker with another prefix does not see them.
        """
        one = self.start("--store", self.url)
        other = self.start("--store", self.url)
        apart = self.start("--store", self.url, "--store-prefix", "apart:")
        answer = self.connect(one, "peer-1")
        peer = self.wait(other.tracker.store.peer("peer-1"))
        self.assertEqual(peer.token, answer.authToken)
        self.assertIsNone(self.wait(apart.tracker.store.peer("peer-1")))

    def test_unreachable(self) -> None:
        """
        A tracker whose Redis is down starts all the same (nothing waits
        for the connection); its health check says the store is
        unreachable, and a request gets an error answer, as when the store
        fails; the swarms it could not provision are logged, with what to
        do; it stops at once.
        """
        self.server.stop()
        swarms = FilePath(self.mktemp())
        swarms.setContent(b"live-1\nlive-2\n")
        with capturedLogs() as events:
            service = self.start("--store", self.url, "--swarms", swarms.path)
            self.assertTrue(any("PPSP tracker listening on" in formatEvent(e) for e in events))
            self.assertIs(self.wait(service.tracker.storeReachable()), False)
            answer = self.connect(service, "peer-1")
            self.assertIsInstance(answer, ErrorResponse)
            self.assertIn(answer.errorCode, (ResponseCode.TEMPORARILY_OVERLOADED, ResponseCode.INTERNAL_ERROR))
            self.wait(service.tracker.ready)
            self.wait(service.stopService())
        self.assertEqual(
            [formatEvent(e).partition(" (")[0] for e in events if "--swarms" in formatEvent(e)],
            ["the 2 swarm(s) of --swarms could not be provisioned in the store at start"],
        )
        self.assertNeverShown(events)

    def test_stopWhileWaiting(self) -> None:
        """
        A graceful stop waits for the store's calls in flight at most
        C{--drain-timeout} seconds (here 0), then closes the connection
        and logs that it did; the request left waiting gets an error
        answer.
        """
        with capturedLogs() as events:
            service = self.start("--store", self.url, "--drain-timeout", "0")
            self.assertIs(self.wait(service.tracker.storeReachable()), True)
            # The server stops answering its clients for a while.
            with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as admin:
                admin.sendall(f"AUTH {PASSWORD}\r\nCLIENT PAUSE 10000 ALL\r\n".encode("ascii"))
                self.assertEqual(admin.recv(100), b"+OK\r\n+OK\r\n")
            answer = service.tracker.handle(ConnectRequest("t-1", "peer-1"), Origin("192.0.2.1", 1))
            self.assertNoResult(answer)
            self.wait(service.stopService())
            response = self.wait(answer)
        self.assertIsInstance(response, ErrorResponse)
        self.assertEqual(
            [formatEvent(e) for e in events if "did not end within" in formatEvent(e)],
            [
                "the store's calls in flight did not end within 0.0 s; closing the connection to "
                f"redis://127.0.0.1:{self.server.port}/0"
            ],
        )
        self.flushLoggedErrors(CancelledError)
        self.assertNeverShown(events)


class TLSServerTests(TestCase):
    """
    C{rediss://} against a real C{redis-server} that speaks TLS only and
    asks for client certificates, through the global reactor (Twisted's
    TLS flushes its writes with it).
    """

    def setUp(self) -> None:
        directory = FilePath(self.mktemp())
        self.trusted = directory.child("trusted")
        self.trusted.makedirs()
        ca = TestCA()
        self.trusted.child("ca.pem").setContent(ca.certificate)
        server = ca.issue("redis", ip="127.0.0.1")
        directory.child("server.pem").setContent(server.certificate)
        directory.child("server.key").setContent(server.key)
        self.client = directory.child("client.pem")
        self.client.setContent(ca.issue("tracker").pem)
        self.other = directory.child("other")
        self.other.makedirs()
        self.other.child("ca.pem").setContent(TestCA("another CA").certificate)
        self.tlsPort = freePort()
        startRedis(
            self,
            [
                "--tls-port", str(self.tlsPort),
                "--tls-cert-file", directory.child("server.pem").path,
                "--tls-key-file", directory.child("server.key").path,
                "--tls-ca-cert-file", self.trusted.child("ca.pem").path,
                "--tls-auth-clients", "yes",
            ],
        )

    async def reachable(self, query: str) -> bool:
        """
        Whether a tracker whose C{--store} is C{rediss://} to the server
        with C{query} reaches it.
        """
        from twisted.internet import reactor

        service: Any = makeService(
            parse("--store", f"rediss://127.0.0.1:{self.tlsPort}/0?{query}", "--drain-timeout", "0"),
            reactor,
        )
        service.startService()
        try:
            result: bool = await service.tracker.storeReachable()
        finally:
            await service.stopService()
        return result

    @inlineCallbacks
    def test_tls(self) -> Any:
        """
        The tracker reaches the server over TLS when it trusts the server's
        CA (C{ssl_ca_path}) and shows its client certificate
        (C{ssl_certfile}, the key in the same file); not when it trusts
        another CA.
        """
        certificate = f"ssl_certfile={self.client.path}"
        trusted = yield Deferred.fromCoroutine(self.reachable(f"ssl_ca_path={self.trusted.path}&{certificate}"))
        self.assertIs(trusted, True)
        other = yield Deferred.fromCoroutine(self.reachable(f"ssl_ca_path={self.other.path}&{certificate}"))
        self.assertIs(other, False)
