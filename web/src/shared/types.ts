// The API's types, as generated from openapi.yaml (src/generated/api.ts, by `npm run types`):
// a change of the contract that breaks the UI fails `tsc --noEmit`.
import type { components, operations } from '../generated/api';

type Schemas = components['schemas'];
type Json<R> = R extends { content: { 'application/json': infer B } } ? B : never;

export type GroupBuy = Schemas['GroupBuy'];
export type PublicGroupBuy = Schemas['PublicGroupBuy'];
export type NewGroupBuy = Schemas['NewGroupBuy'];
export type Status = Schemas['Status'];
export type Problem = Schemas['Problem'];
export type HistoryEntry = Schemas['HistoryEntry'];
export type Participant = Schemas['Participant'];
export type DrawEntry = Schemas['DrawEntry'];
export type WaitlistPlace = Schemas['WaitlistPlace'];
export type VisitorChallenge = Schemas['VisitorChallenge'];

export type GroupBuyList = Json<operations['listGroupBuys']['responses']['200']>;
export type GroupBuyWithHistory = Json<operations['getGroupBuy']['responses']['200']>;
export type InterestList = Json<operations['listInterests']['responses']['200']>;
export type AdminRollup = Json<operations['adminGroupBuys']['responses']['200']>;
export type AdminItem = NonNullable<AdminRollup['items']>[number];
export type AdminFlag = NonNullable<NonNullable<operations['adminGroupBuys']['parameters']['query']>['flag']>;
export type SupportReport = NonNullable<operations['submitSupportReport']['requestBody']>['content']['application/json'];
export type SupportReceipt = Json<operations['submitSupportReport']['responses']['201']>;
export type MyInterest = Json<components['responses']['Interest']>;
export type VisitorPass = Json<operations['issueVisitorPass']['responses']['201']>;
export type PublicDraw = Json<operations['getDraw']['responses']['200']>;

export type Stats = Json<operations['getGroupBuyStats']['responses']['200']>;
export type StatsBucket = Stats['buckets'][number];
