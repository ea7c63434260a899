// The Redoubt privacy policy pack. Loading this file starts the policy
// analyzer's gRPC server, so it only assembles the rules; every rule lives in
// its own module (importable by tests without a server).
import { PolicyPack } from "@pulumi/policy";
import { backupPolicies } from "./backups";
import { dataProtectionPolicies } from "./data-protection";
import { deletionDeadlinePolicies } from "./deletion-deadline";
import { isolationPolicies } from "./isolation";
import { logRetentionPolicies } from "./log-retention";
import { metadataPrivacyPolicies } from "./metadata-privacy";
import { monitoringPolicies } from "./monitoring";
import { noFederationPolicies } from "./no-federation";
import { registrationPolicies } from "./registration";
import { resourceLimitPolicies } from "./resource-limits";
import { retentionPolicies } from "./retention";
import { secretsPolicies } from "./secrets";
import { supplyChainPolicies } from "./supply-chain";
import { tlsPolicies } from "./tls";

new PolicyPack("redoubt-privacy", {
    enforcementLevel: "mandatory",
    policies: [
        ...isolationPolicies,
        ...resourceLimitPolicies,
        ...noFederationPolicies,
        ...metadataPrivacyPolicies,
        ...retentionPolicies,
        ...registrationPolicies,
        ...tlsPolicies,
        ...logRetentionPolicies,
        ...backupPolicies,
        ...dataProtectionPolicies,
        ...deletionDeadlinePolicies,
        ...supplyChainPolicies,
        ...secretsPolicies,
        ...monitoringPolicies,
    ],
});
