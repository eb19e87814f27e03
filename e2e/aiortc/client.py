#!/usr/bin/python3
"""A Prism client on aiortc, for the interoperability test in e2e/aiortc_test.go.

It joins a Prism room over the WebSocket signaling protocol
(signaling/PROTOCOL.md), publishes a synthetic VP8 video track and an Opus
audio track on its publish connection (it offers), receives every track
Prism forwards on its subscribe connection (Prism offers), and prints one
JSON object per line on stdout:

  {"event": "joined", "participant_id": ...}
  {"event": "negotiated", "pc": ..., "local_setup": ..., "remote_setup": ..., "media": [...]}
  {"event": "connected", "pc": ..., "dtls_role": ..., "srtp_profile": ..., ...}
  {"event": "stats", "t": seconds, "received": [...], "sent": [...]}   once a second
  {"event": "error", ...}     an error message from Prism, or one of our own
  {"event": "summary", ...}   last, before it exits

It runs until SIGTERM or SIGINT, or for --duration seconds. Logs (aiortc's
at debug level with --verbose) go to stderr.

ICE is confined to loopback: no ICE servers (aiortc would otherwise use
Google's STUN server), and aioice's host address list is replaced by
127.0.0.1 only. aioice leaves 127.0.0.1 out of its host candidates on
purpose, so without that a loopback-only network namespace gives aiortc
no candidate at all.

Needs Debian's python3-aiortc (1.4) and python3-websockets; run it with
the system /usr/bin/python3.
"""

import argparse
import asyncio
import fractions
import json
import logging
import math
import signal
import struct
import sys
import time

import aioice.ice
import websockets
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import SessionDescription, candidate_from_sdp
from av import AudioFrame, VideoFrame

LOOPBACK = "127.0.0.1"
VIDEO_TRACK_ID = "aiortc-camera"
AUDIO_TRACK_ID = "aiortc-microphone"
AUDIO_RATE = 48000
AUDIO_SAMPLES = 960  # 20 ms

log = logging.getLogger("prism-aiortc")


def loopback_host_addresses(use_ipv4, use_ipv6):
    """Replaces aioice's list of host addresses: loopback, IPv4, only."""
    return [LOOPBACK] if use_ipv4 else []


aioice.ice.get_host_addresses = loopback_host_addresses


def emit(event, **fields):
    """Prints one JSON line on stdout."""
    fields = {"event": event, **fields}
    sys.stdout.write(json.dumps(fields, sort_keys=False) + "\n")
    sys.stdout.flush()


# ---- what it sends ----


class PatternTrack(VideoStreamTrack):
    """A video track of a white bar moving across a dark picture, 30 fps."""

    def __init__(self, width, height):
        super().__init__()
        self._id = VIDEO_TRACK_ID
        self.width, self.height = width, height
        self.frames = 0
        self._chroma = None

    def _luma(self, stride):
        row = bytearray([16]) * stride
        bar = max(self.width // 8, 1)
        x0 = (self.frames * 4) % self.width
        for x in range(x0, min(x0 + bar, self.width)):
            row[x] = 235
        return bytes(row) * self.height

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=self.width, height=self.height, format="yuv420p")
        y, u, v = frame.planes
        y.update(self._luma(y.line_size))
        if self._chroma is None or len(self._chroma) != u.buffer_size:
            self._chroma = bytes([128]) * u.buffer_size
        u.update(self._chroma)
        v.update(self._chroma)
        frame.pts, frame.time_base = pts, time_base
        self.frames += 1
        return frame


class ToneTrack(MediaStreamTrack):
    """An audio track of a 440 Hz tone, mono, 48 kHz, in 20 ms frames."""

    kind = "audio"

    def __init__(self):
        super().__init__()
        self._id = AUDIO_TRACK_ID
        # One second holds exactly 440 periods, so it loops without a click.
        samples = (
            int(8000 * math.sin(2 * math.pi * 440 * i / AUDIO_RATE))
            for i in range(AUDIO_RATE)
        )
        self._pcm = struct.pack(f"<{AUDIO_RATE}h", *samples)
        self._start = None
        self._pts = 0

    async def _pace(self):
        if self._start is None:
            self._start = time.time()
            return
        self._pts += AUDIO_SAMPLES
        await asyncio.sleep(self._start + self._pts / AUDIO_RATE - time.time())

    async def recv(self):
        if self.readyState != "live":
            raise MediaStreamError
        await self._pace()
        frame = AudioFrame(format="s16", layout="mono", samples=AUDIO_SAMPLES)
        off = 2 * (self._pts % AUDIO_RATE)
        chunk = self._pcm[off : off + 2 * AUDIO_SAMPLES]
        frame.planes[0].update(chunk.ljust(frame.planes[0].buffer_size, b"\0"))
        frame.pts = self._pts
        frame.sample_rate = AUDIO_RATE
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        return frame


# ---- what it receives ----


class Inbound:
    """One media section of the subscribe connection and what arrived on it."""

    def __init__(self, mid, kind):
        self.mid, self.kind = mid, kind
        self.participant_id = self.track_id = self.codec = ""
        self.frames = 0
        self.packets = 0
        self.width = self.height = 0
        self.sample_rate = 0
        self.first_frame_at = None

    def on_frame(self, frame, since):
        self.frames += 1
        if self.first_frame_at is None:
            self.first_frame_at = round(time.monotonic() - since, 3)
        if self.kind == "video":
            self.width, self.height = frame.width, frame.height
        else:
            self.sample_rate = frame.sample_rate

    def report(self):
        r = {
            "mid": self.mid,
            "kind": self.kind,
            "participant_id": self.participant_id,
            "track_id": self.track_id,
            "codec": self.codec,
            "packets": self.packets,
            "frames_decoded": self.frames,
            "first_frame_s": self.first_frame_at,
        }
        if self.kind == "video":
            r["width"], r["height"] = self.width, self.height
        else:
            r["sample_rate"] = self.sample_rate
        return r


def media_summary(answer, offer):
    """The negotiated parameters of each media section: codecs, feedback
    and extensions from the answer, the track (a=msid) from the offer."""
    msids = {m.rtp.muxId: m.msid or "" for m in SessionDescription.parse(offer).media}
    out = []
    for m in SessionDescription.parse(answer).media:
        codecs = [c for c in m.rtp.codecs if c.mimeType.lower() != f"{m.kind}/rtx"]
        out.append(
            {
                "mid": m.rtp.muxId,
                "kind": m.kind,
                "direction": m.direction,
                "msid": msids.get(m.rtp.muxId, ""),
                "codecs": [c.mimeType for c in codecs],
                "rtcp_fb": sorted(
                    {
                        f.type + (" " + f.parameter if f.parameter else "")
                        for c in codecs
                        for f in c.rtcpFeedback
                    }
                ),
                "extensions": [e.uri for e in m.rtp.headerExtensions],
            }
        )
    return out


def setup_of(sdp):
    """The a=setup value of an SDP's first media section."""
    for line in sdp.splitlines():
        if line.startswith("a=setup:"):
            return line[len("a=setup:") :].strip()
    return ""


def candidates_of(sdp):
    """The addresses of the candidates in an SDP, as host:port."""
    out = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            c = candidate_from_sdp(line[len("a=candidate:") :])
            out.append(f"{c.ip}:{c.port}")
    return out


def srtp_profile(ssl):
    """The SRTP profile OpenSSL negotiated, from pyOpenSSL's bindings."""
    try:
        from OpenSSL._util import ffi, lib

        p = lib.SSL_get_selected_srtp_profile(ssl._ssl)
        return ffi.string(p.name).decode() if p != ffi.NULL else ""
    except Exception as exc:  # an other pyOpenSSL: say so rather than fail
        return f"unknown ({exc})"


# ---- the client ----


class Client:
    """One participant: a WebSocket and two peer connections."""

    def __init__(self, args):
        self.args = args
        self.ws = None
        self.id = ""
        self.start = time.monotonic()
        self.pcs = {
            name: RTCPeerConnection(RTCConfiguration(iceServers=[]))
            for name in ("publish", "subscribe")
        }
        self.queued = {"publish": [], "subscribe": []}
        self.inbound = {}  # by mid
        self.errors = []
        self.connected = {}
        self.negotiated = {}
        self.tasks = []
        self.stop = asyncio.Event()
        for name, pc in self.pcs.items():
            self._watch(name, pc)
        self.pcs["subscribe"].on("track", self._on_track)

    # -- signaling --

    async def send(self, **msg):
        await self.ws.send(json.dumps(msg))

    async def join(self):
        await self.send(type="join", version=1, room=self.args.room, name=self.args.name)
        async for raw in self.ws:
            m = json.loads(raw)
            if m["type"] == "joined":
                self.id = m["participant_id"]
                emit("joined", participant_id=self.id, participants=m.get("participants", []))
                return
            if m["type"] == "error":
                raise RuntimeError(f"join refused: {m}")
        raise RuntimeError("the WebSocket closed before joined")

    async def read(self):
        """Handles Prism's messages one at a time, in order."""
        async for raw in self.ws:
            m = json.loads(raw)
            try:
                await self.handle(m)
            except Exception as exc:
                log.exception("handling %s", m.get("type"))
                self.error("client", f"handling {m.get('type')}: {exc!r}")
            if m["type"] == "leave":
                self.stop.set()
        self.stop.set()

    async def handle(self, m):
        t = m["type"]
        if t == "offer" and m.get("pc") == "subscribe":
            await self.answer(m["sdp"])
        elif t == "answer" and m.get("pc") == "publish":
            await self.apply_answer(m["sdp"])
        elif t == "candidate":
            await self.add_candidate(m["pc"], m.get("candidate") or {})
        elif t == "error":
            self.error("server", m.get("message", ""), code=m.get("code", ""))
        elif t in ("track_published", "track_unpublished", "participant_joined", "participant_left"):
            emit(t, **{k: v for k, v in m.items() if k != "type"})

    def error(self, source, message, **extra):
        e = {"source": source, "message": message, **extra}
        self.errors.append(e)
        emit("error", **e)

    # -- publish: we offer --

    async def publish(self):
        pc = self.pcs["publish"]
        video = PatternTrack(self.args.width, self.args.height)
        audio = ToneTrack()
        for track, source, mime in ((video, "camera", "video/VP8"), (audio, "microphone", "audio/opus")):
            await self.send(type="publish", track={"id": track.id, "kind": track.kind, "source": source, "muted": False})
            tr = pc.addTransceiver(track, direction="sendonly")
            caps = RTCRtpSender.getCapabilities(track.kind).codecs
            tr.setCodecPreferences([c for c in caps if c.mimeType.lower() == mime.lower()])
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
        self.check_loopback("publish", sdp)
        # aiortc has gathered its candidates: they are in the offer, so
        # there is nothing to trickle.
        await self.send(type="offer", pc="publish", sdp=sdp)

    async def apply_answer(self, sdp):
        pc = self.pcs["publish"]
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        await self.flush("publish")
        self.note_negotiated("publish", pc)

    # -- subscribe: Prism offers --

    async def answer(self, sdp):
        pc = self.pcs["subscribe"]
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        self.update_inbound(sdp)
        await pc.setLocalDescription(await pc.createAnswer())
        await self.flush("subscribe")
        answer = pc.localDescription.sdp
        self.check_loopback("subscribe", answer)
        self.update_codecs(answer, sdp)
        await self.send(type="answer", pc="subscribe", sdp=answer)
        self.note_negotiated("subscribe", pc)

    def update_inbound(self, offer):
        """Re-reads which track each media section carries (a=msid)."""
        for m in SessionDescription.parse(offer).media:
            if m.kind not in ("audio", "video"):
                continue
            inb = self.inbound.setdefault(m.rtp.muxId, Inbound(m.rtp.muxId, m.kind))
            parts = (m.msid or "").split()
            inb.participant_id, inb.track_id = (parts + ["", ""])[:2]

    def update_codecs(self, answer, offer):
        for m in media_summary(answer, offer):
            if m["mid"] in self.inbound and m["codecs"]:
                self.inbound[m["mid"]].codec = m["codecs"][0]

    def note_negotiated(self, name, pc):
        local, remote = pc.localDescription.sdp, pc.remoteDescription.sdp
        offer, answer = (local, remote) if name == "publish" else (remote, local)
        info = {
            "pc": name,
            "local_setup": setup_of(local),
            "remote_setup": setup_of(remote),
            "local_candidates": candidates_of(local),
            "media": media_summary(answer, offer),
            "offer": offer,
            "answer": answer,
        }
        self.negotiated[name] = info
        emit("negotiated", **info)

    def check_loopback(self, name, sdp):
        """Refuses to send a description with a non-loopback candidate."""
        cands = candidates_of(sdp)
        bad = [c for c in cands if not c.startswith(LOOPBACK + ":")]
        if bad or not cands:
            raise RuntimeError(f"{name}: local candidates {cands}, want 127.0.0.1 only")

    # -- candidates --

    async def add_candidate(self, name, c):
        pc = self.pcs[name]
        if pc.remoteDescription is None:
            self.queued[name].append(c)
            return
        await self._add(pc, c)

    async def flush(self, name):
        pending, self.queued[name] = self.queued[name], []
        for c in pending:
            await self._add(self.pcs[name], c)

    async def _add(self, pc, c):
        s = c.get("candidate", "")
        if not s:
            return  # end of candidates: Prism never sends it
        cand = candidate_from_sdp(s.split(":", 1)[1] if s.startswith("candidate:") else s)
        # Both connections are bundled: every candidate belongs to the
        # first media section's transport.
        cand.sdpMid = pc.getTransceivers()[0].mid
        cand.sdpMLineIndex = 0
        if not cand.ip.startswith("127."):
            self.error("client", f"dropping Prism's non-loopback candidate {s}")
            return
        await pc.addIceCandidate(cand)

    # -- connection state --

    def _watch(self, name, pc):
        @pc.on("connectionstatechange")
        def on_state():
            emit("state", pc=name, state=pc.connectionState)
            if pc.connectionState == "connected":
                self.connected[name] = self.transport_info(name, pc)
                emit("connected", **self.connected[name])
            elif pc.connectionState == "failed":
                self.error("client", f"{name} connection failed")

    def transport_info(self, name, pc):
        tr = pc.getTransceivers()[0]
        dtls = tr.receiver.transport if name == "subscribe" else tr.sender.transport
        ice = dtls.transport
        info = {
            "pc": name,
            "at_s": round(time.monotonic() - self.start, 3),
            "dtls_role": dtls._role,
            "dtls_version": dtls.ssl.get_protocol_version_name(),
            "dtls_cipher": dtls.ssl.get_cipher_name(),
            "srtp_profile": srtp_profile(dtls.ssl),
            "ice_role": ice.role,
            "local_candidates": [f"{c.ip}:{c.port}" for c in ice.iceGatherer.getLocalCandidates()],
        }
        pair = getattr(ice._connection, "_nominated", {}).get(1)
        if pair is not None:
            info["selected_pair"] = "%s:%d -> %s:%d" % (pair.local_addr + pair.remote_addr)
        return info

    # -- reception --

    def _on_track(self, track):
        for tr in self.pcs["subscribe"].getTransceivers():
            if tr.receiver.track is track:
                inb = self.inbound.setdefault(tr.mid, Inbound(tr.mid, track.kind))
                self.tasks.append(asyncio.ensure_future(self._consume(track, inb)))
                return

    async def _consume(self, track, inb):
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            inb.on_frame(frame, self.start)

    async def collect(self):
        """Packets received per media section, and packets sent per track."""
        sent = []
        for name, pc in self.pcs.items():
            for tr in pc.getTransceivers():
                if name == "subscribe" and tr.mid in self.inbound:
                    for s in (await tr.receiver.getStats()).values():
                        if s.type == "inbound-rtp":
                            self.inbound[tr.mid].packets = s.packetsReceived
                elif name == "publish" and tr.sender.track is not None:
                    for s in (await tr.sender.getStats()).values():
                        if s.type == "outbound-rtp":
                            sent.append({"track_id": tr.sender.track.id, "kind": tr.kind, "packets": s.packetsSent})
        return [i.report() for i in self.inbound.values()], sent

    async def report_every_second(self):
        while not self.stop.is_set():
            try:
                await asyncio.wait_for(self.stop.wait(), timeout=1)
            except asyncio.TimeoutError:
                pass
            received, sent = await self.collect()
            emit("stats", t=round(time.monotonic() - self.start, 3), received=received, sent=sent)

    # -- the whole run --

    async def run(self):
        async with websockets.connect(self.args.url, max_size=1 << 20, open_timeout=10) as ws:
            self.ws = ws
            await self.join()
            reader = asyncio.ensure_future(self.read())
            reporter = asyncio.ensure_future(self.report_every_second())
            try:
                if not self.args.no_publish:
                    await self.publish()
                await self.stop.wait()
            finally:
                await self.finish(reader, reporter)

    async def finish(self, reader, reporter):
        self.stop.set()
        await reporter
        received, sent = await self.collect()
        emit(
            "summary",
            participant_id=self.id,
            seconds=round(time.monotonic() - self.start, 3),
            received=received,
            sent=sent,
            connected=self.connected,
            negotiated=self.negotiated,
            errors=self.errors,
        )
        try:
            await self.send(type="leave")
        except websockets.ConnectionClosed:
            pass
        for pc in self.pcs.values():
            await pc.close()
        for t in self.tasks:
            t.cancel()
        reader.cancel()
        await asyncio.gather(reader, *self.tasks, return_exceptions=True)


def parse_args():
    p = argparse.ArgumentParser(description="A Prism client on aiortc.")
    p.add_argument("url", help="Prism's WebSocket URL, e.g. ws://127.0.0.1:8800/ws")
    p.add_argument("--room", default="demo")
    p.add_argument("--name", default="aiortc")
    p.add_argument("--duration", type=float, default=30, help="seconds to run before leaving")
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--height", type=int, default=240)
    p.add_argument("--no-publish", action="store_true", help="receive only")
    p.add_argument("--verbose", action="store_true", help="aiortc's and aioice's debug logs on stderr")
    return p.parse_args()


async def main():
    args = parse_args()
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    client = Client(args)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, client.stop.set)
    loop.call_later(args.duration, client.stop.set)
    await client.run()


if __name__ == "__main__":
    asyncio.run(main())
