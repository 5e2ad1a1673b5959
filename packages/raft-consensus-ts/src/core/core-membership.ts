import {
  ConfigChangeInProgressError,
  InvalidConfigChangeError,
  LearnerNotCaughtUpError,
} from '../errors.js';

import type { ConfigChange } from '../types.js';
import { applyConfigChange, encodeConfigEntry } from './config-entry.js';
import { CoreReads } from './core-reads.js';
import { newProgress } from './progress.js';

/** Single-server membership changes (§4.1) and the progress they add or drop. */
export abstract class CoreMembership extends CoreReads {
  /** Appends a single-server membership change; it takes effect on every node as soon as the entry is appended. */
  proposeConfigChange(change: ConfigChange): { index: number; term: number } {
    this.assertCanPropose();
    if (this.pendingConfIndex > this.commit)
      throw new ConfigChangeInProgressError(this.pendingConfIndex);
    const next = applyConfigChange(this.log.membership(), change);
    if (typeof next === 'string') throw new InvalidConfigChangeError(change, next);
    if (change.type === 'promoteLearner') {
      // A voter that is far behind cannot ack new entries: promoting it early
      // would make the cluster wait on it for every commit.
      const pr = this.progress.get(change.node);
      const match = pr?.match ?? 0;
      if (this.log.lastIndex() - match > this.cfg.maxEntriesPerMessage) {
        throw new LearnerNotCaughtUpError(change.node, match, this.log.lastIndex());
      }
    }
    const index = this.appendEntry('config', encodeConfigEntry({ change, membership: next }));
    this.pendingConfIndex = index;
    return { index, term: this.term };
  }

  /** Progress for every member but us: new members start probing at our end of log. */
  protected syncProgress(): void {
    const membership = this.log.membership();
    const members = new Set([...membership.voters, ...membership.learners]);
    members.delete(this.id);
    for (const id of [...this.progress.keys()]) if (!members.has(id)) this.progress.delete(id);
    for (const id of members) {
      if (!this.progress.has(id)) this.progress.set(id, newProgress(id, this.log.lastIndex() + 1));
    }
  }

  protected onMembershipChanged(): void {
    this.emit({
      type: 'membership-changed',
      membership: this.log.membership(),
      index: this.log.membershipIndex(),
    });
    if (this.role === 'leader') {
      this.syncProgress();
      if (this.leadTransferee !== null && !this.isVoter(this.leadTransferee))
        this.leadTransferee = null;
      return;
    }
    if ((this.role === 'candidate' || this.role === 'pre-candidate') && !this.mayCampaign()) {
      this.becomeFollower(this.term, this.leader);
      return;
    }
    if (this.role === 'follower' || this.role === 'learner') this.setRole(this.followerRole());
  }
}
