// Connection quality from RTCPeerConnection.getStats(): round-trip time and packet loss over the last interval,
// put into words (good / fair / poor) for the person in the call, and the connection type for the session log.

const GOOD = { rtt: 0.25, loss: 0.02 };
const FAIR = { rtt: 0.5, loss: 0.08 };

export function grade(rttSeconds, loss) {
  if (rttSeconds <= GOOD.rtt && loss <= GOOD.loss) return "good";
  if (rttSeconds <= FAIR.rtt && loss <= FAIR.loss) return "fair";
  return "poor";
}

// One peer connection's figures now: round-trip time (s), packets received and lost so far, and whether the
// path goes through a TURN relay.
export async function sample(pc) {
  const report = await pc.getStats();
  let pair = null;
  let received = 0;
  let lost = 0;
  report.forEach((stat) => {
    if (stat.type === "transport" && stat.selectedCandidatePairId) pair = report.get(stat.selectedCandidatePairId);
    if (stat.type === "inbound-rtp") {
      received += stat.packetsReceived || 0;
      lost += Math.max(0, stat.packetsLost || 0);
    }
  });
  if (!pair) report.forEach((stat) => { if (stat.type === "candidate-pair" && stat.nominated && stat.state === "succeeded") pair = stat; });
  const local = pair ? report.get(pair.localCandidateId) : null;
  return {
    rtt: pair && typeof pair.currentRoundTripTime === "number" ? pair.currentRoundTripTime : null,
    received, lost,
    relayed: Boolean(local && local.candidateType === "relay"),
  };
}

// Keeps the previous sample per peer, so loss is measured over the last interval and not since the start.
export class QualityMeter {
  constructor() { this.previous = new Map(); }

  async measure(peers) {
    let worst = null;
    let rttMs = null;
    let relayed = false;
    for (const [id, pc] of peers) {
      if (pc.connectionState !== "connected") continue;
      const now = await sample(pc);
      const before = this.previous.get(id) || { received: 0, lost: 0 };
      this.previous.set(id, now);
      const got = now.received - before.received;
      const missed = now.lost - before.lost;
      const loss = got + missed > 0 ? missed / (got + missed) : 0;
      const level = grade(now.rtt === null ? 0 : now.rtt, loss);
      if (worst === null || rank(level) > rank(worst)) worst = level;
      if (now.rtt !== null) rttMs = Math.max(rttMs || 0, Math.round(now.rtt * 1000));
      relayed = relayed || now.relayed;
    }
    return worst === null ? null : { level: worst, rttMs, relayed };
  }

  forget(id) { this.previous.delete(id); }
}

function rank(level) { return { good: 0, fair: 1, poor: 2 }[level]; }
