import { accountFromSuri, type Account } from '../../origin/src/chain/accounts.ts';
import { CessConnection, openCessChain, type CessChain } from '../../origin/src/chain/cess/index.ts';
import { CHAIN } from '../../origin/src/chain/port.ts';
import type { ChainHarness } from '../conformance/chain.ts';

/**
 * Test set-up on a CESS dev chain (chopsticks; docs/chain.md): accounts, balances and storage-node state are
 * written with chopsticks' `dev_setStorage`, the way sudo would on a real dev chain. Everything else goes through
 * real, signed transactions.
 */
export class DevChain {
  readonly conn: CessConnection;
  /** Roles become `//deoss-live/<run>/<role>`, so reruns against the same chain start from fresh accounts. */
  readonly run = `${Date.now().toString(36)}`;
  readonly #clients = new Map<string, Promise<CessChain>>();
  #minerWrites: Promise<unknown> = Promise.resolve();

  private constructor(conn: CessConnection) {
    this.conn = conn;
  }

  static async open(endpoints: string[]): Promise<DevChain> {
    const conn = await CessConnection.open({ endpoints, log: (m) => process.stderr.write(`${m}\n`) });
    const dev = new DevChain(conn);
    // Room for every territory the tests buy (mint_territory checks idle + service space ≥ purchased).
    await dev.setStorage({ StorageHandler: { TotalIdleSpace: (10n * 1024n ** 5n).toString() } });
    return dev;
  }

  suri(role: string): string {
    return `//deoss-live/${this.run}/${role}`;
  }

  key(role: string): Promise<Account> {
    return accountFromSuri(this.suri(role));
  }

  /** A client signing as `role`, with 1,000 CESS for fees on first use. */
  client(role: string): Promise<CessChain> {
    let c = this.#clients.get(role);
    if (!c) {
      c = (async () => {
        const chain = await openCessChain({ suri: this.suri(role), connection: this.conn });
        await this.fund(chain.account, 1_000n * CHAIN.unit);
        return chain;
      })();
      this.#clients.set(role, c);
    }
    return c;
  }

  setStorage(storage: Record<string, unknown>): Promise<unknown> {
    return this.conn.send('dev_setStorage', [storage]);
  }

  /** Adds `amount` to the free balance, keeping the nonce (a fresh AccountInfo would reset it to 0). */
  async fund(address: string, amount: bigint): Promise<void> {
    const info = (await this.conn.api.query.system.account(address)).toJSON() as { nonce: number; consumers: number; providers: number; sufficients: number; data: { free: string | number } };
    const free = BigInt(info.data.free) + amount;
    await this.setStorage({ System: { Account: [[[address], { ...info, providers: Math.max(1, info.providers), data: { ...info.data, free: free.toString() } }]] } });
  }

  /**
   * Registers `role` as a storage node for real (`Sminer.regnstk`, staking 4,000 CESS per TiB), then does what
   * a TEE worker's certification would: marks it `positive` with `idleSpace` of certified space.
   */
  async activateMiner(role: string, endpoint: string, idleSpace: bigint): Promise<void> {
    const miner = await this.client(role);
    await this.fund(miner.account, 5_000n * CHAIN.unit);
    await miner.registerMiner({ endpoint, idleSpace });
    // AllMiner is read, extended and written back: one miner at a time.
    const run = this.#minerWrites.then(async () => {
      const item = (await this.conn.api.query.sminer.minerItems(miner.account)).toJSON() as Record<string, unknown> | null;
      if (!item) throw new Error(`regnstk left no MinerItems entry for ${miner.account}`);
      const all = (await this.conn.api.query.sminer.allMiner()).toJSON() as string[];
      await this.setStorage({
        Sminer: {
          MinerItems: [[[miner.account], { ...item, state: 'positive', idleSpace: idleSpace.toString(), declarationSpace: (1024n ** 4n).toString() }]],
          AllMiner: [...all, miner.account],
        },
      });
    });
    this.#minerWrites = run.catch(() => undefined);
    await run;
  }

  harness(): ChainHarness {
    const spec = this.conn.runtime().specVersion;
    return {
      client: (role) => this.client(role),
      fund: async (role, amount) => this.fund((await this.client(role)).account, amount),
      key: (role) => this.key(role),
      activateMiner: (role, endpoint, idle) => this.activateMiner(role, endpoint, idle),
      rules: {
        pendingDealDeletable: false,
        // The 2024-09 devnet runtime (spec 100) charged a fly upload 1.5 × 32 MiB per segment; later ones 3 × 32 MiB.
        flyUploadBytesPerSegment: spec <= 100 ? 48n * 1024n * 1024n : 96n * 1024n * 1024n,
      },
    };
  }

  async close(): Promise<void> {
    for (const c of this.#clients.values()) await (await c).close();
    await this.conn.close();
  }
}
