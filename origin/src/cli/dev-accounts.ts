import { CHAIN } from '../chain/port.ts';
import { accountFromSuri } from '../chain/accounts.ts';
import { openLocalChain } from '../chain/local/index.ts';

/** The local stack's dev user: a well-known dev key, never to be used on a real chain. */
export const DEV_USER_SURI = '//Alice';
export const DEV_TERRITORY = 'default';
const DEV_TERRITORY_GIB = 256;
const DEV_TERRITORY_DAYS = 30;

/**
 * Makes the dev user ready to upload through the local gateway: funds it (local chain only), mints its territory,
 * and authorizes the gateway. Idempotent.
 */
export async function provisionDevUser(options: { chainDb: string; gateway: string }): Promise<{ address: string }> {
  const signer = await accountFromSuri(DEV_USER_SURI);
  const chain = await openLocalChain({ path: options.chainDb, signer });
  try {
    const price = CHAIN.unitPrice * BigInt(DEV_TERRITORY_GIB * DEV_TERRITORY_DAYS);
    if ((await chain.balance(signer.address)) < price * 2n) await chain.fund(signer.address, price * 4n);
    const territory = await chain.territory(signer.address, DEV_TERRITORY);
    if (!territory) await chain.mintTerritory({ name: DEV_TERRITORY, gib: DEV_TERRITORY_GIB, days: DEV_TERRITORY_DAYS });
    else if (territory.deadline <= (await chain.blockNumber())) await chain.renewTerritory({ name: DEV_TERRITORY, days: DEV_TERRITORY_DAYS });
    if (!(await chain.isAuthorized(signer.address, options.gateway))) await chain.authorize(options.gateway);
    return { address: signer.address };
  } finally {
    await chain.close();
  }
}
